using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Isems.Api.Json;

/// <summary>
/// Every instant the API writes (health, registry) in one form: UTC, milliseconds, <c>Z</c>
/// (<c>2026-11-27T09:04:13.417Z</c>), as the measurements' timestamps end in <c>Z</c> too.
/// </summary>
public sealed class UtcTimeConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        DateTimeOffset.Parse(reader.GetString()!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
}
