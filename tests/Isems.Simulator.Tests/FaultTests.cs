using System.Net;

namespace Isems.Simulator.Tests;

public sealed class FaultTests : IAsyncLifetime
{
    private SimulatedFleet _fleet = null!;

    public Task InitializeAsync()
    {
        _fleet = SimulatedFleet.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _fleet.DisposeAsync();

    [Theory]
    [InlineData(NodeKind.Router)]
    [InlineData(NodeKind.Esp)]
    public async Task A_hanging_node_times_the_client_out_while_another_answers_at_once(NodeKind kind)
    {
        var hang = _fleet.AddNode("hang", kind, historyLines: 5);
        hang.Fault = NodeFault.Hang;
        var good = _fleet.AddNode("good", kind, historyLines: 5);

        using var shortTimeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(1500));
        var hanging = Http.GetAsync(hang.LogUrl, cancel: shortTimeout.Token);
        await Http.WaitUntilAsync(() => hang.Requests == 1);

        using (var answer = await Http.GetAsync(good.LogUrl))
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        Assert.False(hanging.IsCompleted);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hanging);
    }

    [Fact]
    public async Task A_hanging_request_is_answered_once_the_fault_is_cleared()
    {
        var node = _fleet.AddNode("hang", historyLines: 5);
        node.Fault = NodeFault.Hang;

        var hanging = Http.GetAsync(node.LogUrl);
        await Http.WaitUntilAsync(() => node.Requests == 1);
        Assert.False(hanging.IsCompleted);
        node.Fault = NodeFault.None;

        using var response = await hanging.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Disposing_the_fleet_closes_hanging_connections_promptly()
    {
        var node = _fleet.AddNode("hang", historyLines: 5);
        node.Fault = NodeFault.Hang;
        var hanging = Http.GetAsync(node.LogUrl);
        await Http.WaitUntilAsync(() => node.Requests == 1);

        await _fleet.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(5));

        await Assert.ThrowsAsync<HttpRequestException>(() => hanging.WaitAsync(TimeSpan.FromSeconds(5)));
        await Assert.ThrowsAsync<HttpRequestException>(() => Http.GetAsync(node.LogUrl));
    }

    [Theory]
    [InlineData(NodeFault.Reset)]
    [InlineData(NodeFault.GarbageResponse)]
    public async Task Resets_and_garbage_fail_the_request(NodeFault fault)
    {
        var node = _fleet.AddNode("bad", historyLines: 5);
        node.Fault = fault;

        await Assert.ThrowsAsync<HttpRequestException>(() => Http.GetAsync(node.LogUrl));
        Assert.Equal(1, node.Requests);
    }

    [Fact]
    public async Task A_reset_is_a_reset_not_a_close()
    {
        var node = _fleet.AddNode("bad", historyLines: 5);
        node.Fault = NodeFault.Reset;

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => Http.GetAsync(node.LogUrl));
        Assert.Contains(Exceptions(error), e => e is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset }
            || e is IOException && e.Message.Contains("reset", StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData(NodeFault.ServerError, HttpStatusCode.InternalServerError)]
    [InlineData(NodeFault.NotFound, HttpStatusCode.NotFound)]
    public async Task Error_faults_answer_with_their_status_until_cleared(NodeFault fault, HttpStatusCode status)
    {
        var node = _fleet.AddNode("bad", historyLines: 5);
        node.Fault = fault;

        using (var response = await Http.GetAsync(node.LogUrl))
        {
            Assert.Equal(status, response.StatusCode);
            Assert.NotEqual(string.Concat(node.Lines.Select(l => l + "\n")), await response.Content.ReadAsStringAsync());
        }
        node.Fault = NodeFault.None;
        using (var response = await Http.GetAsync(node.LogUrl))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static IEnumerable<Exception> Exceptions(Exception? e)
    {
        for (; e is not null; e = e.InnerException) yield return e;
    }
}
