namespace DistriGen.Models.Text;

/// <summary>Finds and loads the text side of a diffusers model folder.</summary>
public static class PromptEncoders
{
    /// <summary>
    /// The token-embedding encoder (built-in models), CLIP (tokenizer/ + text_encoder/, SD 1.x/2.x), or
    /// SDXL's pair (plus tokenizer_2/ + text_encoder_2/); null when the folder has no text encoder.
    /// A text encoder without its tokenizer (or the reverse) is an error naming the missing folder.
    /// </summary>
    public static IPromptEncoder? Load(string modelDirectory, ModelIndex index)
    {
        var encoderDir = Path.Combine(modelDirectory, "text_encoder");
        if (TokenEmbeddingTextEncoder.Describes(Path.Combine(encoderDir, "config.json")))
            return TokenEmbeddingPromptEncoder.Load(modelDirectory);
        var towers = new List<ClipTextTower>();
        foreach (var suffix in new[] { "", "_2" })
        {
            var encoder = Path.Combine(modelDirectory, "text_encoder" + suffix);
            var tokenizer = Path.Combine(modelDirectory, "tokenizer" + suffix);
            bool hasEncoder = Directory.Exists(encoder), hasTokenizer = Directory.Exists(tokenizer);
            if (!hasEncoder && !hasTokenizer) continue;
            if (!hasTokenizer || !hasEncoder)
                throw new DirectoryNotFoundException($"{modelDirectory} has {(hasEncoder ? "text_encoder" : "tokenizer")}{suffix}/ but no {(hasEncoder ? "tokenizer" : "text_encoder")}{suffix}/, " +
                    "so it cannot encode prompts; add the folder, or give the embeddings with --embeddings FILE.");
            towers.Add(new ClipTextTower(ClipTokenizer.Load(tokenizer), ClipTextModel.Load(encoder)));
        }
        if (towers.Count == 0) return null;
        bool sdxl = index.IsSdxl || Directory.Exists(Path.Combine(modelDirectory, "text_encoder_2"));
        return sdxl
            ? ClipPromptEncoder.StableDiffusionXl(towers, index.ForceZerosForEmptyPrompt, modelDirectory)
            : ClipPromptEncoder.StableDiffusion(towers[0], modelDirectory);
    }
}
