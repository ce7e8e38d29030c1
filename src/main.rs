fn main() {
    std::process::exit(batchrun::main(std::env::args_os().collect()));
}
