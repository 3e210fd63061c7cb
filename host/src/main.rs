//! The `shipgate` command line. Everything lives in the library; see `cli`.

fn main() -> std::process::ExitCode {
    shipgate::cli::main()
}
