namespace DistriGen.Generators.Parsing
{
    /// <summary>The metadata names the generator recognises; it references nothing of DistriGen at build time.</summary>
    internal static class KnownTypes
    {
        public const string PatchParallelAttribute = "DistriGen.Runtime.PatchParallelAttribute";
        public const string PixelLocalAttribute = "DistriGen.Runtime.PixelLocalAttribute";
        public const string StateNameAttribute = "DistriGen.Runtime.StateNameAttribute";
        public const string SplitsInputAttribute = "DistriGen.Runtime.SplitsInputAttribute";
        public const string NotPatchedAttribute = "DistriGen.Runtime.NotPatchedAttribute";

        public const string Module = "DistriGen.Tensors.Nn.Module";
        public const string ModuleList = "DistriGen.Tensors.Nn.ModuleList`1";
        public const string Conv2d = "DistriGen.Tensors.Nn.Conv2d";
        public const string GroupNorm = "DistriGen.Tensors.Nn.GroupNorm";
        public const string Attention = "DistriGen.Tensors.Nn.Attention";
        public const string Linear = "DistriGen.Tensors.Nn.Linear";
        public const string LayerNorm = "DistriGen.Tensors.Nn.LayerNorm";
        public const string Embedding = "DistriGen.Tensors.Nn.Embedding";
        public const string Tensor = "DistriGen.Tensors.Tensor";
        public const string PatchRewriter = "DistriGen.Runtime.PatchRewriter";
        public const string Ops = "DistriGen.Tensors.Ops.Ops";
    }
}
