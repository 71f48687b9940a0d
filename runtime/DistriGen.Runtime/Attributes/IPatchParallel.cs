namespace DistriGen.Runtime;

/// <summary>What every [PatchParallel] module's generated part tells about it, whatever its type.</summary>
public interface IPatchParallel
{
    /// <summary>
    /// What band heights must be a multiple of so that every level of the module sees whole rows: the
    /// product of the strides of its convolutions and of its children's alignments, emitted by the
    /// generator from the members it rewrites (<see cref="BandLayout"/>'s <c>alignment</c>).
    /// </summary>
    int BandAlignment { get; }
}

/// <summary>Implemented by the generated part of every [PatchParallel] module.</summary>
public interface IPatchParallel<out TSelf> : IPatchParallel
{
    /// <summary>The patch-parallel variant of this module for the rank described by <paramref name="context"/>; parameters are shared, not copied.</summary>
    TSelf ToPatchParallel(PatchContext context);
}
