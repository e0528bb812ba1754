using Akka.Actor;
using Akka.Hosting;
using Isems.Actors.Mqtt;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Isems.Api.Controllers;

/// <summary>The broker link: connected since, last message, reconnects, last error, what was dropped and why.</summary>
[ApiController]
[Route("mqtt")]
[EnableCors(ApiOptions.ReadOnlyCorsPolicy)]
public sealed class MqttController(ActorRegistry registry, ApiOptions options) : ControllerBase
{
    [HttpGet]
    [EndpointSummary("The broker link: connected, messages, acknowledgements, reconnects, drops by kind")]
    [ProducesResponseType<MqttStatus>(StatusCodes.Status200OK)]
    [ProducesResponseType<ProblemDetails>(StatusCodes.Status404NotFound, "application/problem+json")]
    public async Task<IActionResult> Status(CancellationToken cancellationToken)
    {
        if (!registry.TryGet<MqttBridgeActor>(out var bridge))
            return Problem(statusCode: StatusCodes.Status404NotFound, title: "MQTT is not configured",
                detail: "Set MQTT_SERVER (and MQTT_PORT) to subscribe to a broker, or MQTT_EMBEDDED_BROKER_PORT to run one inside the collector.");
        var status = await bridge.Ask<MqttStatus>(new GetMqttStatus(), options.AskTimeout, cancellationToken);
        return Ok(status);
    }
}
