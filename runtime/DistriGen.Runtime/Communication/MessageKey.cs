namespace DistriGen.Runtime.Communication;

/// <summary>
/// Which message a receive is for, between one pair of ranks: an opaque number below 2²³ (the smallest
/// tag range Open MPI's transports give), used by transports as it is. Messages with the same key
/// between the same pair of ranks arrive in the order they were sent.
/// </summary>
public readonly record struct MessageKey
{
    public const int Limit = 1 << 23;

    public MessageKey(int value) =>
        Value = value is >= 0 and < Limit ? value : throw new ArgumentOutOfRangeException(nameof(value), value, $"A message key is between 0 and {Limit - 1}.");

    public int Value { get; }

    /// <summary>The keys of collectives, numbered by a sequence that every rank follows in the same order.</summary>
    internal static MessageKey Collective(long sequence) => new((1 << 22) | (int)(sequence & ((1 << 22) - 1)));

    public override string ToString() => $"#{Value}";

    public static implicit operator MessageKey(int value) => new(value);
}
