//! The `cairn` binary: parses the command line and runs it (`cairn::cli`); errors print
//! with their causes and exit 1. `cairn extract` (the server's sandboxed document parser)
//! runs before any async runtime starts, so its address space holds little but the parser.

use clap::Parser;

use cairn::sources::isolate::Watched;

/// mimalloc, watched for failed allocations: in `cairn extract` a failure means the document
/// hit its memory limit.
#[global_allocator]
static ALLOC: Watched<mimalloc::MiMalloc> = Watched(mimalloc::MiMalloc);

fn main() -> std::process::ExitCode {
    let cli = cairn::cli::Cli::parse();
    if let cairn::cli::Command::Extract { kind, memory_mb } = &cli.command {
        return report(cairn::sources::isolate::run_child(kind, *memory_mb));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => report(runtime.block_on(cairn::cli::run(cli))),
        Err(e) => report(Err(e.into())),
    }
}

fn report(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
