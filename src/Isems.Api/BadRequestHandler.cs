using Isems.Api.Admin;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;

namespace Isems.Api;

/// <summary>
/// The server's own refusals of a request (a body over its limit, a body cut short, a malformed chunk) surface as
/// <see cref="BadHttpRequestException"/> where the body is read; they are the client's mistake, so they are answered
/// with their own 4xx as problem+json instead of reaching the exception handler as a 500.
/// </summary>
public sealed class BadRequestHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad || context.Response.HasStarted) return false;
        context.Response.StatusCode = bad.StatusCode;
        if (bad.StatusCode == StatusCodes.Status413PayloadTooLarge && context.Request.Path.StartsWithSegments("/admin"))
        {
            await AdminBodyLimit.TooLarge(null).ExecuteAsync(context);
            return true;
        }
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = bad.StatusCode, Title = "The request could not be read", Detail = bad.Message },
        });
    }
}
