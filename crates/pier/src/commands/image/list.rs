//! `pier images` / `pier image ls`: docker's image table (REPOSITORY TAG IMAGE ID CREATED SIZE), one
//! row per repository:tag (and per digest with `--digests`), `-q`, `-a`, `--no-trunc`, repeatable
//! `--filter`, `--format` (`table ...`, `json`, Go templates) and the `imagesFormat` config key.

use super::super::{filters_json, Ctx};
use crate::client::q;
use crate::error::Result;
use crate::format::{self, truncate_id, units};
use crate::template::Value;
use serde::Deserialize;
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only show image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    pub all: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Format output using a custom template
    #[arg(long)]
    pub format: Option<String>,
    /// Filter output based on conditions provided
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// List multi-platform images as a tree (EXPERIMENTAL)
    #[arg(long)]
    pub tree: bool,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub name: Option<String>,
}

/// `GET /images/json` entries (fields docker's formatter uses).
#[derive(Debug, Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct Summary {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    #[serde(default)]
    pub repo_digests: Option<Vec<String>>,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub size: i64,
    #[serde(default = "minus_one")]
    pub shared_size: i64,
    #[serde(default = "minus_one")]
    pub containers: i64,
}

fn minus_one() -> i64 {
    -1
}

const DEFAULT_TABLE: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";
const DEFAULT_TABLE_DIGEST: &str = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";

/// docker's `NewImageFormat`.
pub fn image_format(source: &str, quiet: bool, digest: bool) -> String {
    match source {
        format::TABLE if quiet => "{{.ID}}".into(),
        format::TABLE if digest => DEFAULT_TABLE_DIGEST.into(),
        format::TABLE => DEFAULT_TABLE.into(),
        "raw" if quiet => "image_id: {{.ID}}".into(),
        "raw" if digest => "repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n".into(),
        "raw" => "repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n".into(),
        other => {
            let mut f = other.to_string();
            if format::is_table(&f) && digest && !f.contains("{{.Digest}}") {
                f.push_str("\t{{.Digest}}");
            }
            f
        }
    }
}

pub fn header() -> Value {
    let h = |k: &str, v: &str| (k.to_string(), Value::str(v));
    Value::Map(vec![
        h("ID", "IMAGE ID"),
        h("Repository", "REPOSITORY"),
        h("Tag", "TAG"),
        h("Digest", "DIGEST"),
        h("CreatedSince", "CREATED"),
        h("CreatedAt", "CREATED AT"),
        h("Size", "SIZE"),
        h("Containers", "CONTAINERS"),
        h("VirtualSize", "SIZE"),
        h("SharedSize", "SHARED SIZE"),
        h("UniqueSize", "UNIQUE SIZE"),
    ])
}

/// Split "name:tag" / "name@digest" into familiar name, tag and digest; `None` for `<none>` forms.
fn split_ref(s: &str) -> Option<(String, Option<String>, Option<String>)> {
    let r = pier_image::parse_normalized(s).ok()?;
    Some((
        r.familiar_name(),
        r.tag().map(str::to_string),
        r.digest().map(|d| d.to_string()),
    ))
}

fn is_dangling(img: &Summary) -> bool {
    let tags = img.repo_tags.clone().unwrap_or_default();
    let digests = img.repo_digests.clone().unwrap_or_default();
    (tags.is_empty() && digests.is_empty())
        || (tags == ["<none>:<none>"] && digests == ["<none>@<none>"])
}

static IMAGE_CONTEXT: crate::template::typed::StructType =
    crate::template::typed::context("*formatter.imageContext");

/// One image context (a row): docker's `imageContext` methods as struct fields.
fn row(img: &Summary, repo: &str, tag: &str, digest: &str, trunc: bool) -> Value {
    let id = if trunc {
        truncate_id(&img.id)
    } else {
        img.id.clone()
    };
    let since = units::since(img.created);
    let containers = if img.containers == -1 {
        "N/A".to_string()
    } else {
        img.containers.to_string()
    };
    let shared = if img.shared_size == -1 {
        "N/A".to_string()
    } else {
        units::human_size(img.shared_size as f64)
    };
    let unique = if img.size == -1 || img.shared_size == -1 {
        "N/A".to_string()
    } else {
        units::human_size((img.size - img.shared_size) as f64)
    };
    let f = |k: &str, v: String| (k.to_string(), Value::Str(v));
    Value::Struct(
        &IMAGE_CONTEXT,
        vec![
            f("Containers", containers),
            f("CreatedAt", units::go_time_string(img.created)),
            f("CreatedSince", since),
            f("Digest", digest.to_string()),
            f("ID", id),
            f("Repository", repo.to_string()),
            f("SharedSize", shared),
            f("Size", units::human_size_with_precision(img.size as f64, 3)),
            f("Tag", tag.to_string()),
            f("UniqueSize", unique),
            f("VirtualSize", units::human_size(img.size as f64)),
        ],
    )
}

/// docker's `imageFormat` / `imageFormatTaggedAndDigest`: rows for every repo:tag (and digest).
pub fn rows(images: &[Summary], trunc: bool, show_digests: bool, need_digest: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for img in images {
        if is_dangling(img) {
            out.push(row(img, "<none>", "<none>", "<none>", trunc));
            continue;
        }
        let mut repo_tags: Vec<(String, Vec<String>)> = Vec::new();
        let mut repo_digests: Vec<(String, Vec<String>)> = Vec::new();
        for s in img.repo_tags.iter().flatten() {
            if let Some((name, Some(tag), _)) = split_ref(s) {
                match repo_tags.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, v)) => v.push(tag),
                    None => repo_tags.push((name, vec![tag])),
                }
            }
        }
        for s in img.repo_digests.iter().flatten() {
            if let Some((name, _, Some(d))) = split_ref(s) {
                match repo_digests.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, v)) => v.push(d),
                    None => repo_digests.push((name, vec![d])),
                }
            }
        }
        for (repo, tags) in &repo_tags {
            let mut digests = Vec::new();
            if let Some(i) = repo_digests.iter().position(|(n, _)| n == repo) {
                digests = repo_digests.remove(i).1;
            }
            if !need_digest {
                digests.clear();
            }
            for tag in tags {
                if digests.is_empty() {
                    out.push(row(img, repo, tag, "<none>", trunc));
                }
                for d in &digests {
                    out.push(row(img, repo, tag, d, trunc));
                }
            }
        }
        for (repo, digests) in &repo_digests {
            if show_digests {
                for d in digests {
                    out.push(row(img, repo, "<none>", d, trunc));
                }
            } else {
                out.push(row(img, repo, "<none>", "", trunc));
            }
        }
    }
    out
}

pub async fn run(ctx: &mut Ctx, args: Args, called_as_images: bool) -> Result<()> {
    if args.tree {
        return Err(crate::error::CliError::Usage(
            "--tree is not supported by pier yet".into(),
        ));
    }
    let mut filters = args.filter.clone();
    if let Some(n) = &args.name {
        super::super::add_filter(&mut filters, "reference", n);
    }
    let mut path = String::from("/images/json");
    let mut query = Vec::new();
    if args.all {
        query.push("all=1".to_string());
    }
    if let Some(f) = filters_json(&filters)? {
        query.push(format!("filters={}", q(&f)));
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let images: Vec<Summary> = ctx.client.get_json(&path).await?;

    let source = match &args.format {
        Some(f) if !f.is_empty() => f.clone(),
        _ => match ctx
            .config_file()
            .get("imagesFormat")
            .and_then(|v| v.as_str())
        {
            Some(f) if !f.is_empty() && !args.quiet => f.to_string(),
            _ => format::TABLE.to_string(),
        },
    };
    let fmt = image_format(&source, args.quiet, args.digests);
    let need_digest = args.digests || fmt.contains("{{.Digest}}");
    let rows = rows(&images, !args.no_trunc, args.digests, need_digest);
    let out = format::render(&fmt, &header(), &rows)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    if let Some(n) = &args.name {
        if images.is_empty()
            && called_as_images
            && [
                "build", "history", "import", "inspect", "list", "load", "ls", "prune", "pull",
                "push", "rm", "save", "tag",
            ]
            .contains(&n.as_str())
        {
            eprintln!("\nNo images found matching {n:?}: did you mean \"pier image {n}\"?");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img() -> Summary {
        Summary {
            id: "sha256:65bc378d5b95d0f05fd8d07834c32a6ad0c0a44c120c8151bbfb67b6df8f37ca".into(),
            repo_tags: Some(vec!["127.0.0.1:5055/library/busybox:latest".into(), "busybox:1".into(), "busybox:latest".into()]),
            repo_digests: Some(vec!["127.0.0.1:5055/library/busybox@sha256:156ad10e36cb79f4a0b410156416971ee31dc47998c602d5ec146a1fa900a6ee".into()]),
            created: chrono::Utc::now().timestamp() - 7,
            size: 1_981_440,
            shared_size: -1,
            containers: -1,
        }
    }

    #[test]
    fn default_table() {
        let out = format::render(
            &image_format("table", false, false),
            &header(),
            &rows(&[img()], true, false, false),
        )
        .unwrap();
        assert_eq!(
            out,
            "REPOSITORY                       TAG       IMAGE ID       CREATED         SIZE\n\
             127.0.0.1:5055/library/busybox   latest    65bc378d5b95   7 seconds ago   1.98MB\n\
             busybox                          1         65bc378d5b95   7 seconds ago   1.98MB\n\
             busybox                          latest    65bc378d5b95   7 seconds ago   1.98MB\n"
        );
    }

    #[test]
    fn digests_and_quiet() {
        let out = format::render(
            &image_format("table", false, true),
            &header(),
            &rows(&[img()], true, true, true),
        )
        .unwrap();
        let first = out.lines().nth(1).unwrap();
        assert!(
            first.starts_with("127.0.0.1:5055/library/busybox   latest    sha256:156ad10e"),
            "{first}"
        );
        assert!(out.lines().nth(2).unwrap().contains("   <none>    "));
        let q = format::render(
            &image_format("table", true, false),
            &header(),
            &rows(&[img()], true, false, false),
        )
        .unwrap();
        assert_eq!(q, "65bc378d5b95\n65bc378d5b95\n65bc378d5b95\n");
    }

    #[test]
    fn dangling_and_json() {
        let mut d = img();
        d.repo_tags = None;
        d.repo_digests = Some(vec![]);
        let out = format::render("json", &header(), &rows(&[d], true, false, false)).unwrap();
        assert!(
            out.starts_with("{\"Containers\":\"N/A\",\"CreatedAt\":\""),
            "{out}"
        );
        assert!(out.contains("\"Digest\":\"\\u003cnone\\u003e\",\"ID\":\"65bc378d5b95\",\"Repository\":\"\\u003cnone\\u003e\""), "{out}");
    }
}
