using Akka.Actor;
using Isems.Actors.Cluster;
using Microsoft.AspNetCore.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace Isems.Api.Controllers;

/// <summary>The members of the cluster as this member sees them (SPEC §9); in one process, <c>"mode":"single"</c>.</summary>
[ApiController]
[Route("cluster")]
[EnableCors(ApiOptions.ReadOnlyCorsPolicy)]
public sealed class ClusterController(ActorSystem system) : ControllerBase
{
    [HttpGet]
    [EndpointSummary("The cluster's members, their state and roles, the leader and the unreachable members")]
    [ProducesResponseType<ClusterStateView>(StatusCodes.Status200OK)]
    public ClusterStateView Get() => ClusterView.Read(system);
}
