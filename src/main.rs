//! The `gatehouse` binary: everything lives in the library; see `gatehouse --help`.

fn main() -> std::process::ExitCode {
    gatehouse::cli::main()
}
