using Akka.Actor;
using Akka.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Isems.Api.Controllers;

/// <summary>The one way controllers ask an actor: with a timeout and the request's cancellation.</summary>
public sealed class ActorAsk<TActor>(IRequiredActor<TActor> actor, ApiOptions options)
{
    /// <summary>The answer, or null when none came within <paramref name="timeout"/> (by default <see cref="ApiOptions.AskTimeout"/>).</summary>
    public async Task<object?> AskAsync(object message, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        try
        {
            return await actor.ActorRef.Ask<object>(message, timeout ?? options.AskTimeout, cancellationToken);
        }
        catch (AskTimeoutException)
        {
            return null;
        }
    }

    public ObjectResult Unavailable(ControllerBase controller) => controller.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "The collector is busy",
        detail: $"The collector's actors did not answer within {options.AskTimeout.TotalSeconds:0} s; try again shortly.");
}
