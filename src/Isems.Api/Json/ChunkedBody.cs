using System.Buffers;

namespace Isems.Api.Json;

/// <summary>
/// An <see cref="IBufferWriter{T}"/> that keeps what is written as the body itself, in chunks of its own: a year of
/// buckets (5.4 MiB) was written into a pooled buffer and then copied whole into the array an answer keeps, and that
/// copy (with the page faults of the fresh array) was a quarter of writing it. The chunks become the answer's
/// <see cref="Representation"/> as they are; only the last is cut to its written length.
/// </summary>
internal sealed class ChunkedBody(int chunkSize = ChunkedBody.DefaultChunk) : IBufferWriter<byte>
{
    /// <summary>Large enough that a year is a few dozen chunks, small enough that the last one's slack is little.</summary>
    public const int DefaultChunk = 256 * 1024;

    private readonly List<ReadOnlyMemory<byte>> _done = [];
    private byte[] _current = [];
    private int _written;

    public void Advance(int count) => _written += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _current.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _current.AsSpan(_written);
    }

    private void Ensure(int sizeHint)
    {
        if (_current.Length - _written >= Math.Max(sizeHint, 1)) return;
        if (_written > 0) _done.Add(_current.AsMemory(0, _written));
        // Uninitialized: every byte handed out is written before it is read, and the pages past the last write of the
        // last chunk are never touched (that chunk is cut below).
        _current = GC.AllocateUninitializedArray<byte>(Math.Max(chunkSize, sizeHint));
        _written = 0;
    }

    /// <summary>
    /// The chunks written, in order; the last copied to its written length when more than an eighth of it is unused, so
    /// that an answer kept in the cache keeps little slack.
    /// </summary>
    public List<ReadOnlyMemory<byte>> Finish()
    {
        if (_written > 0)
            _done.Add(_current.Length - _written > _current.Length / 8 ? _current.AsSpan(0, _written).ToArray() : _current.AsMemory(0, _written));
        _current = [];
        _written = 0;
        return _done;
    }
}
