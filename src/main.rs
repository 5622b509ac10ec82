//! The `rsec` binary: a thin shell around the library. It parses the command line, then
//! hands over to [`rsec::run`]; everything else lives in the library's modules.
#![forbid(unsafe_code)]

fn main() {
    std::process::exit(rsec::run(std::env::args_os().skip(1).collect()));
}
