using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Isems.Api;

/// <summary>The OpenAPI document at <c>/openapi/v1.json</c>: every endpoint, and the admin API's bearer token.</summary>
public static class ApiDocument
{
    public const string BearerScheme = "adminToken";

    public static IServiceCollection AddIsemsOpenApi(this IServiceCollection services) => services.AddOpenApi(options => options
        .AddOperationTransformer(async (operation, context, cancellationToken) =>
        {
            // The admin API reads its bodies itself, to say precisely what is wrong with them; [Consumes(typeof(T))]
            // tells the document what they hold.
            var body = context.Description.ActionDescriptor.EndpointMetadata.OfType<IAcceptsMetadata>()
                .FirstOrDefault(accepts => accepts.RequestType is not null);
            if (body is null || operation.RequestBody is not null) return;
            var schema = await context.GetOrCreateSchemaAsync(body.RequestType!, null, cancellationToken);
            operation.RequestBody = new OpenApiRequestBody
            {
                Required = true,
                Content = body.ContentTypes.ToDictionary(type => type, _ => new OpenApiMediaType { Schema = schema }),
            };
        })
        .AddDocumentTransformer((document, _, _) =>
        {
            document.Info = new OpenApiInfo
            {
                Title = "ISEMS collector",
                Version = "v1",
                Description = "Status data of solar-powered mesh nodes. The /measurements endpoints answer as the original " +
                              "collector did; /admin needs 'Authorization: Bearer <ISEMS_ADMIN_TOKEN>'.",
            };
            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The collector's ISEMS_ADMIN_TOKEN",
            };
            // The history and export operations (issue 11) are public: they declare that they need no token.
            document.Tags ??= new HashSet<OpenApiTag>();
            const string measurements = "Measurements: the newest per node, a node's history over any range (raw or in exact buckets), and exports as CSV or lines. Public, no token.";
            if (document.Tags.FirstOrDefault(t => t.Name == "measurements") is { } tag) tag.Description ??= measurements;
            else document.Tags.Add(new OpenApiTag { Name = "measurements", Description = measurements });
            foreach (var (path, item) in document.Paths)
            {
                if (path.StartsWith("/measurements/", StringComparison.Ordinal) && (path.EndsWith("/history", StringComparison.Ordinal) || path.EndsWith("/export", StringComparison.Ordinal)) && item.Operations is not null)
                    foreach (var operation in item.Operations.Values)
                        operation.Security = [];
                if (!path.StartsWith("/admin", StringComparison.Ordinal) || item.Operations is null) continue;
                foreach (var operation in item.Operations.Values)
                    operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] }];
            }
            return Task.CompletedTask;
        }));
}
