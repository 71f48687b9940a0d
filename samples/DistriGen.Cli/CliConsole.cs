using Spectre.Console;

namespace DistriGen.Cli;

/// <summary>
/// How the tool writes: colour and progress bars only on a terminal (and never with NO_COLOR set), no
/// wrapping when the output goes to a file or pipe; warnings and errors on standard error, one line each.
/// </summary>
internal static class CliConsole
{
    private static bool ColourAllowed =>
        string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")) && !Console.IsOutputRedirected;

    /// <summary>Sets up Spectre.Console for where the output goes; called once per run of the tool.</summary>
    public static void Configure()
    {
        bool colour = ColourAllowed;
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = colour ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = colour ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = colour ? InteractionSupport.Detect : InteractionSupport.No,
            Out = new AnsiConsoleOutput(Console.Out),
        });
        // A file or pipe has no width: lines are not wrapped.
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 100_000;
    }

    public static void Warning(string message) => WriteError("warning", message);

    public static void Error(string message) => WriteError("error", message);

    private static void WriteError(string label, string message)
    {
        var line = string.Join(" ", message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        bool colour = string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR")) && !Console.IsErrorRedirected;
        Console.Error.WriteLine(colour ? $"\u001b[{(label == "error" ? "31" : "33")}m{label}:\u001b[0m {line}" : $"{label}: {line}");
    }
}
