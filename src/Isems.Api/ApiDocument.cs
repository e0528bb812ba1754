using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Isems.Api;

/// <summary>The OpenAPI document at <c>/openapi/v1.json</c>: every endpoint, and the admin API's bearer token.</summary>
public static class ApiDocument
{
    public const string BearerScheme = "adminToken";

    private static readonly Dictionary<string, string> TagDescriptions = new(StringComparer.Ordinal)
    {
        ["Measurements"] = "The stored measurements: the newest per node in the original collector's JSON (what the isems-app reads), a node's history over any range (raw or in exact buckets), and exports as CSV or lines",
        ["Nodes"] = "Each node's health: polling state, last error, lines stored",
        ["Mqtt"] = "The link to the MQTT broker that pushing nodes publish to",
        ["AdminNodes"] = "Adding, changing and removing nodes at runtime (needs the admin token)",
        ["Health"] = "Liveness and readiness, for supervisors and load balancers",
        ["Metrics"] = "The collector's own metrics, for Prometheus",
    };

    /// <summary>An operation id from the method and the path: GET /nodes/{nodeId} is getNodesByNodeId.</summary>
    public static string OperationId(string method, string path)
    {
        var id = new System.Text.StringBuilder(method.ToLowerInvariant());
        foreach (var segment in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = segment.Trim('{', '}');
            if (segment.StartsWith('{')) id.Append("By");
            foreach (var word in name.Split('-', '_', '.'))
                if (word.Length > 0) id.Append(char.ToUpperInvariant(word[0])).Append(word.AsSpan(1));
        }
        return id.ToString();
    }

    private static IOpenApiSchema Problem(OpenApiDocument document) =>
        document.Components?.Schemas?.ContainsKey("ProblemDetails") == true
            ? new OpenApiSchemaReference("ProblemDetails", document)
            : new OpenApiSchema { Type = JsonSchemaType.Object };

    /// <summary>/metrics is served by OpenTelemetry's exporter, outside MVC and minimal APIs, so it is described here.</summary>
    private static void DocumentMetrics(OpenApiDocument document)
    {
        document.Paths["/metrics"] = new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Get] = new()
                {
                    Tags = new HashSet<OpenApiTagReference> { new("Metrics", document) },
                    Summary = "The collector's metrics in Prometheus's text format",
                    Description = "Polls, lines by outcome, the writer's commits, nodes by state, the MQTT link, the runtime's and the HTTP server's own.",
                    OperationId = "getMetrics",
                    Responses = new OpenApiResponses
                    {
                        ["200"] = new OpenApiResponse
                        {
                            Description = "Every series",
                            Content = new Dictionary<string, OpenApiMediaType> { ["text/plain"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } } },
                        },
                    },
                },
            },
        };
    }

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
            DocumentMetrics(document);
            foreach (var (path, item) in document.Paths)
            {
                if (item.Operations is null) continue;
                foreach (var (method, operation) in item.Operations)
                {
                    // Every operation says what it needs: the admin token, or nothing (an empty requirement).
                    operation.Security = path.StartsWith("/admin", StringComparison.Ordinal)
                        ? [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] }]
                        : [new OpenApiSecurityRequirement()];
                    operation.OperationId ??= OperationId(method.Method, path);
                    operation.Summary ??= operation.Description?.Split(". ")[0].TrimEnd('.') ?? $"{method.Method} {path}";
                    operation.Responses ??= new OpenApiResponses();
                    if (!operation.Responses.Keys.Any(code => code.StartsWith('4')))
                        operation.Responses["4XX"] = new OpenApiResponse
                        {
                            Description = "The request was refused; the problem says what to change",
                            Content = new Dictionary<string, OpenApiMediaType> { ["application/problem+json"] = new() { Schema = Problem(document) } },
                        };
                }
            }

            // Generated from the request's own address, which ends in a slash; clients join paths to it.
            foreach (var server in document.Servers ?? []) server.Url = server.Url?.TrimEnd('/') is { Length: > 0 } url ? url : "/";

            var used = document.Paths.Values.SelectMany(p => p.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
                .SelectMany(o => o.Tags ?? new HashSet<OpenApiTagReference>()).Select(t => t.Name).OfType<string>()
                .ToHashSet(StringComparer.Ordinal);
            document.Tags = new HashSet<OpenApiTag>(used.Order(StringComparer.Ordinal).Select(name => new OpenApiTag
            {
                Name = name,
                Description = TagDescriptions.GetValueOrDefault(name, $"The {name} endpoints"),
            }));
            return Task.CompletedTask;
        }));
}
