using System.CommandLine;
using DistriGen.Cli.Commands.Bench;

namespace DistriGen.Cli.Commands;

/// <summary>
/// distrigen bench kernels|unet|vae|parallel|text-encoder: throughput measured side by side in one run.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmark kernels, models and patch-parallel runs (--json FILE writes the numbers).");
        command.Subcommands.Add(KernelsBench.Create());
        command.Subcommands.Add(UNetBench.Create());
        command.Subcommands.Add(VaeBench.Create());
        command.Subcommands.Add(ParallelBench.Create());
        command.Subcommands.Add(TextEncoderBench.Create());
        return command;
    }
}
