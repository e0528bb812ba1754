using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Filters;

namespace Isems.Api.Admin;

/// <summary>
/// Lets a request through only with <c>Authorization: Bearer &lt;ISEMS_ADMIN_TOKEN&gt;</c>: none → 401, wrong → 403, and
/// 403 with how to turn it on while no token is set. The comparison takes the same time however much of the token is
/// right (both sides are hashed to equal length first, then compared in constant time).
/// </summary>
public sealed class AdminTokenFilter(ApiOptions options) : IAuthorizationFilter
{
    public void OnAuthorization(AuthorizationFilterContext context)
    {
        if (string.IsNullOrEmpty(options.AdminToken))
        {
            context.Result = Refuse(StatusCodes.Status403Forbidden, "The admin API is off",
                "Set ISEMS_ADMIN_TOKEN to a long random secret (for example the output of `openssl rand -hex 32`) and " +
                "restart the collector; then send it as 'Authorization: Bearer <token>'.");
            return;
        }

        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer realm=\"isems-admin\"";
            context.Result = Refuse(StatusCodes.Status401Unauthorized, "Authentication required",
                "Send the admin token as 'Authorization: Bearer <ISEMS_ADMIN_TOKEN>'.");
            return;
        }

        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header[scheme.Length..].Trim()));
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(options.AdminToken));
        if (!CryptographicOperations.FixedTimeEquals(given, expected))
            context.Result = Refuse(StatusCodes.Status403Forbidden, "Wrong admin token",
                "The bearer token is not the collector's ISEMS_ADMIN_TOKEN.");
    }

    private static ObjectResult Refuse(int status, string title, string detail) =>
        new(new ProblemDetails { Status = status, Title = title, Detail = detail })
        {
            StatusCode = status,
            ContentTypes = { "application/problem+json" },
        };
}
