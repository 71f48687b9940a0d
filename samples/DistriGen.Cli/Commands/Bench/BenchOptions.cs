using System.CommandLine;

namespace DistriGen.Cli.Commands.Bench;

/// <summary>The options every benchmark shares.</summary>
internal static class BenchOptions
{
    public static Option<int> Threads() => new("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };

    public static Option<string> Backend() => new("--backend") { Description = ModelOptions.BackendHelp, DefaultValueFactory = _ => "auto" };

    public static Option<int> Repeat() => new("--repeat") { Description = "Measured runs (after one warm-up); the median is reported.", DefaultValueFactory = _ => 3 };

    public static Option<string?> Json() => new("--json") { Description = "Also write the measurements to this file as JSON." };
}
