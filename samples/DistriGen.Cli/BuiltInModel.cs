namespace DistriGen.Cli;

/// <summary>The "shapes" model that ships with the tool, used when no --model is given.</summary>
internal static class BuiltInModel
{
    public const string Name = "shapes";
    public const string DefaultPrompt = "a red circle and a blue square on light background";

    public static string Directory => Path.Combine(AppContext.BaseDirectory, "models", Name);

    /// <summary>The model was trained at 32×32 and draws what it is told there; larger canvases fill with many shapes.</summary>
    public static GenerationDefaults Defaults { get; } = new(Width: 32, Height: 32, Steps: 30, Guidance: 2f);

    /// <summary>compare draws on 128×128, where several bands of shapes and the seams between them show.</summary>
    public static (int Width, int Height) CompareSize => (128, 128);
}

/// <summary>What a model is run with when the command line does not say.</summary>
internal sealed record GenerationDefaults(int Width, int Height, int Steps, float Guidance);
