using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Isems.Api.Controllers;

/// <summary>The one way controllers ask the node actors: with a timeout and the request's cancellation.</summary>
public sealed class NodeAsk(IRequiredActor<NodeManagerActor> nodes, ApiOptions options)
{
    public async Task<object?> AskAsync(object message, CancellationToken cancellationToken)
    {
        try
        {
            return await nodes.ActorRef.Ask<object>(message, options.AskTimeout, cancellationToken);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    public ObjectResult Unavailable(ControllerBase controller) => controller.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "The collector is busy",
        detail: $"The node actors did not answer within {options.AskTimeout.TotalSeconds:0} s; try again shortly.");
}
