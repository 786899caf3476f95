//! `pier-fixtures`: start a throwaway registry, push every fixture to it, print what was pushed
//! (reference, digest, image ID), and keep serving until stdin closes or a line is read
//! (`--for SECS` serves for that long instead). For manual testing and benchmarks:
//! `scripts/fixtures` runs it.

use std::io::BufRead;
use std::time::Duration;

use pier_testkit::fixtures::{self, Format};
use pier_testkit::{Compression, Image, Registry};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve_for = match args.as_slice() {
        [] => None,
        [flag, secs] if flag == "--for" => match secs.parse::<u64>() {
            Ok(s) => Some(Duration::from_secs(s)),
            Err(_) => usage(),
        },
        _ => usage(),
    };
    let reg = Registry::start();
    let images: Vec<Image> = vec![
        fixtures::busybox(&reg),
        fixtures::whiteouts(&reg),
        fixtures::schema2(&reg),
        fixtures::oci(&reg),
        fixtures::multiarch(&reg, Format::Oci),
        fixtures::multiarch(&reg, Format::Docker),
        fixtures::compressed(&reg, Compression::Gzip),
        fixtures::compressed(&reg, Compression::Zstd),
        fixtures::compressed(&reg, Compression::None),
    ];
    println!(
        "registry {} (pid {}), storage {}",
        reg.addr(),
        reg.pid(),
        reg.storage_dir().display()
    );
    for img in &images {
        println!("{:<60} {} id {}", img.reference(), img.digest, img.id());
    }
    match serve_for {
        Some(d) => std::thread::sleep(d),
        None => {
            eprintln!("serving; press Enter (or close stdin) to stop");
            let _ = std::io::stdin().lock().lines().next();
        }
    }
}

fn usage() -> ! {
    eprintln!("usage: pier-fixtures [--for SECONDS]");
    std::process::exit(2);
}
