use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(status_check::run(std::env::args_os()))
}
