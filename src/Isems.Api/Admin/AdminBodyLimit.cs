using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Isems.Api.Admin;

/// <summary>
/// A node request is a few hundred bytes: an <c>/admin</c> body over 64 KiB is refused with 413 before any of it is
/// read when its length is announced, and as soon as 64 KiB have come when it is not (chunked), instead of the
/// server's 30 MB default.
/// </summary>
public static class AdminBodyLimit
{
    public const int Bytes = 64 * 1024;

    public static IApplicationBuilder UseAdminBodyLimit(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.Request.Path.StartsWithSegments("/admin"))
        {
            if (context.Request.ContentLength > Bytes)
            {
                await TooLarge(context.Request.ContentLength.Value).ExecuteAsync(context);
                return;
            }
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = Bytes;
        }
        await next(context);
    });

    public static IResult TooLarge(long? length) => Results.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "The body is too large",
        detail: $"An /admin request body may hold at most 64 KiB{(length is { } n ? $"; this one announced {n} bytes" : "")}. " +
                "A node request is one small JSON object, for example {\"id\":\"Router-1\",\"url\":\"10.36.158.33\"}.");
}
