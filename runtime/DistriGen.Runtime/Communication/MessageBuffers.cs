using System.Collections.Concurrent;

namespace DistriGen.Runtime.Communication;

/// <summary>
/// Reused arrays for in-process messages, by exact length: every step sends the same sizes, so after
/// the first step no message allocates. Kept apart from the tensor pool because a message is taken by
/// its sender's thread and given back by its receiver's, which would blur each rank's memory count.
/// </summary>
internal static class MessageBuffers
{
    private const long MaxPooledBytes = 1L << 30;
    private static readonly ConcurrentDictionary<int, ConcurrentBag<float[]>> Free = new();
    private static long _pooledBytes;

    public static float[] Rent(int length)
    {
        if (length > 0 && Free.TryGetValue(length, out var bag) && bag.TryTake(out var array))
        {
            Interlocked.Add(ref _pooledBytes, -4L * length);
            return array;
        }
        return length == 0 ? [] : GC.AllocateUninitializedArray<float>(length);
    }

    public static void Return(float[] array)
    {
        if (array.Length == 0 || Interlocked.Read(ref _pooledBytes) + 4L * array.Length > MaxPooledBytes) return;
        Free.GetOrAdd(array.Length, _ => new ConcurrentBag<float[]>()).Add(array);
        Interlocked.Add(ref _pooledBytes, 4L * array.Length);
    }
}
