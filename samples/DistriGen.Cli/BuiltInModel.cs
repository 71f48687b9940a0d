namespace DistriGen.Cli;

/// <summary>The "shapes" model that ships with the tool, used when no --model is given.</summary>
internal static class BuiltInModel
{
    public const string Name = "shapes";
    public const string DefaultPrompt = "a red circle and a blue square on light background";

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "models", Name);

    public static GenerationDefaults Defaults { get; } = new(Width: 128, Height: 128, Steps: 30, Guidance: 2f);
}

/// <summary>What a model is run with when the command line does not say.</summary>
internal sealed record GenerationDefaults(int Width, int Height, int Steps, float Guidance);
