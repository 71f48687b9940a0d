namespace DistriGen.Runtime;

/// <summary>Implemented by the generated part of every [PatchParallel] module.</summary>
public interface IPatchParallel<out TSelf>
{
    /// <summary>The patch-parallel variant of this module for the rank described by <paramref name="context"/>; parameters are shared, not copied.</summary>
    TSelf ToPatchParallel(PatchContext context);
}
