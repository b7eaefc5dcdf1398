fn main() {
    std::process::exit(run_batch::cli::main());
}
