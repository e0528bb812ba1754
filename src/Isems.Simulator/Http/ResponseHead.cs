using System.Text;

namespace Isems.Simulator.Http;

/// <summary>Builds the status line and headers of a response, ready to send.</summary>
internal sealed class ResponseHead(string version, int status, string reason)
{
    private readonly StringBuilder _text = new($"{version} {status} {reason}\r\n");

    public int Status => status;

    public ResponseHead With(string name, string value)
    {
        _text.Append(name).Append(": ").Append(value).Append("\r\n");
        return this;
    }

    public ResponseHead With(string name, long value) => With(name, value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public byte[] ToBytes() => Encoding.ASCII.GetBytes(_text.ToString() + "\r\n");

    /// <summary>An HTTP/1.1 answer with a length and <c>Connection: close</c>, as a router's web server sends it.</summary>
    public static ResponseHead Http11(int status, string reason, string contentType, long contentLength) =>
        new ResponseHead("HTTP/1.1", status, reason)
            .With("Content-Type", contentType)
            .With("Content-Length", contentLength)
            .With("Connection", "close");
}
