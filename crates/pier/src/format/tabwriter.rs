//! A port of the tabwriter docker's CLI uses for tables (Go's `text/tabwriter` as forked in
//! `cli/command/formatter/tabwriter`), so column widths and padding match docker byte for byte:
//! cells are tab-terminated, a column's width is its widest cell plus `padding` (at least `minwidth`)
//! within a block of consecutive lines that have that column, the last cell of a line is not aligned,
//! and a line with a single cell ends the block (flushes). Only flags 0 and a space pad are supported
//! (docker uses `NewWriter(out, 10, 1, 3, ' ', 0)`); widths count East Asian wide runes as 2.

#[derive(Clone, Copy, Default)]
struct Cell {
    size: usize,
    width: usize,
    htab: bool,
}

pub struct TabWriter {
    out: Vec<u8>,
    minwidth: usize,
    padding: usize,
    buf: Vec<u8>,
    cell: Cell,
    lines: Vec<Vec<Cell>>,
    widths: Vec<usize>,
}

impl TabWriter {
    /// docker's table writer: minwidth 10, padding 3, space padded.
    pub fn docker() -> TabWriter {
        TabWriter::new(10, 3)
    }

    pub fn new(minwidth: usize, padding: usize) -> TabWriter {
        TabWriter {
            out: Vec::new(),
            minwidth,
            padding,
            buf: Vec::new(),
            cell: Cell::default(),
            lines: vec![Vec::new()],
            widths: Vec::new(),
        }
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.cell = Cell::default();
        self.lines = vec![Vec::new()];
        self.widths.clear();
    }

    fn terminate_cell(&mut self, htab: bool) -> usize {
        self.cell.htab = htab;
        let line = self.lines.last_mut().expect("at least one line");
        line.push(self.cell);
        self.cell = Cell::default();
        line.len()
    }

    pub fn write_str(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut n = 0;
        for (i, &ch) in bytes.iter().enumerate() {
            if matches!(ch, b'\t' | b'\x0b' | b'\n' | b'\x0c') {
                self.append(&s[n..i]);
                n = i + 1;
                let ncells = self.terminate_cell(ch == b'\t');
                if ch == b'\n' || ch == b'\x0c' {
                    self.lines.push(Vec::new());
                    if ch == b'\x0c' || ncells == 1 {
                        self.flush_internal();
                    }
                }
            }
        }
        self.append(&s[n..]);
    }

    fn append(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
        self.cell.size += text.len();
        self.cell.width += display_width(text);
    }

    fn flush_internal(&mut self) {
        if self.cell.size > 0 {
            self.terminate_cell(false);
        }
        let n = self.lines.len();
        self.format(0, 0, n);
        self.reset();
    }

    /// Flush and return everything written.
    pub fn finish(mut self) -> Vec<u8> {
        self.flush_internal();
        self.out
    }

    fn write_padding(&mut self, textw: usize, cellw: usize) {
        if cellw > textw {
            self.out.extend(std::iter::repeat_n(b' ', cellw - textw));
        }
    }

    fn write_lines(&mut self, mut pos: usize, line0: usize, line1: usize) -> usize {
        for i in line0..line1 {
            let line = self.lines[i].clone();
            for (j, c) in line.iter().enumerate() {
                if c.size == 0 {
                    if j < self.widths.len() {
                        self.write_padding(c.width, self.widths[j]);
                    }
                } else {
                    let chunk = self.buf[pos..pos + c.size].to_vec();
                    self.out.extend_from_slice(&chunk);
                    pos += c.size;
                    if j < self.widths.len() {
                        self.write_padding(c.width, self.widths[j]);
                    }
                }
            }
            if i + 1 == self.lines.len() {
                let chunk = self.buf[pos..pos + self.cell.size].to_vec();
                self.out.extend_from_slice(&chunk);
                pos += self.cell.size;
            } else {
                self.out.push(b'\n');
            }
        }
        pos
    }

    fn format(&mut self, pos0: usize, mut line0: usize, line1: usize) -> usize {
        let mut pos = pos0;
        let column = self.widths.len();
        let mut this = line0;
        while this < line1 {
            let len = self.lines[this].len();
            if column + 1 >= len {
                this += 1;
                continue;
            }
            pos = self.write_lines(pos, line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 {
                let line = &self.lines[this];
                if column + 1 >= line.len() {
                    break;
                }
                let w = line[column].width + self.padding;
                if w > width {
                    width = w;
                }
                this += 1;
            }
            self.widths.push(width);
            pos = self.format(pos, line0, this);
            self.widths.pop();
            line0 = this;
        }
        self.write_lines(pos, line0, line1)
    }
}

/// Display width as go-runewidth counts it for common text: East Asian wide and fullwidth runes are 2.
pub fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let u = c as u32;
            let wide = matches!(u,
                0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
                | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
                | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD);
            if wide {
                2
            } else {
                1
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> String {
        let mut t = TabWriter::docker();
        t.write_str(s);
        String::from_utf8(t.finish()).unwrap()
    }

    #[test]
    fn docker_images_layout() {
        // Recorded from docker 28 against dockerd.
        let got = table("REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n127.0.0.1:5055/library/busybox\tlatest\t65bc378d5b95\t7 seconds ago\t1.98MB\n");
        assert_eq!(
            got,
            "REPOSITORY                       TAG       IMAGE ID       CREATED         SIZE\n\
             127.0.0.1:5055/library/busybox   latest    65bc378d5b95   7 seconds ago   1.98MB\n"
        );
    }

    #[test]
    fn single_cell_lines_end_blocks() {
        let got = table("a\tb\nxxxxxxxxxxxxxxxx\nc\td\n");
        assert_eq!(got, "a         b\nxxxxxxxxxxxxxxxx\nc         d\n");
    }

    #[test]
    fn empty_cells_and_short_lines() {
        let got = table("A\tB\tC\n\t\tz\nlonger-than-ten\tq\n");
        assert_eq!(
            got,
            "A                 B         C\n                            z\nlonger-than-ten   q\n"
        );
    }
}
