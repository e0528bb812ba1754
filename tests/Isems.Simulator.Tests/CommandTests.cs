using System.Net;
using System.Text;

namespace Isems.Simulator.Tests;

public sealed class CommandTests
{
    [Theory]
    [InlineData("--nodes", "x")]
    [InlineData("--nodes", "-1")]
    [InlineData("--port", "70000")]
    [InlineData("--interval-seconds", "0")]
    [InlineData("--frobnicate", "1")]
    [InlineData("--nodes", "0", "--esp", "0")]
    [InlineData("--history")]
    public async Task Wrong_arguments_exit_2_with_a_message_on_stderr(params string[] args)
    {
        var output = new StringWriter();
        var errors = new StringWriter();

        var code = await Program.RunAsync(args, output, errors, CancellationToken.None);

        Assert.Equal(2, code);
        Assert.StartsWith("Isems.Simulator: ", errors.ToString());
        Assert.Empty(output.ToString());
    }

    [Fact]
    public async Task Help_prints_usage()
    {
        var output = new StringWriter();
        Assert.Equal(0, await Program.RunAsync(["--help"], output, new StringWriter(), CancellationToken.None));
        Assert.Contains("--interval-seconds", output.ToString());
    }

    [Fact]
    public void Both_option_forms_parse()
    {
        var options = SimulatorOptions.Parse(["--nodes=3", "--esp", "2", "--port", "0", "--history=5", "--interval-seconds", "15"], out var error, out _);
        Assert.Null(error);
        Assert.Equal(new SimulatorOptions(3, 2, 0, 5, 15), options);
        Assert.Equal(SimulatorOptions.Default, SimulatorOptions.Parse([], out _, out _));
    }

    [Fact]
    public async Task It_prints_the_log_urls_serves_them_and_stops_when_asked()
    {
        var output = new FirstLine();
        using var stop = new CancellationTokenSource();
        var run = Program.RunAsync(["--nodes", "2", "--esp", "1", "--port", "0", "--history", "3"], output, new StringWriter(), stop.Token);

        var urls = (await output.Line.WaitAsync(TimeSpan.FromSeconds(10))).Split(',').Select(u => new Uri(u)).ToArray();
        Assert.Equal(["sim-router-0001", "sim-router-0002", "sim-esp-0001"], urls.Select(u => u.Segments[1].TrimEnd('/')));
        Assert.All(urls, u => Assert.Equal("127.0.0.1", u.Host));
        using (var response = await Http.GetAsync(urls[0]))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(3, (await response.Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n').Length);
        }

        stop.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// <summary>Captures the first line written, which the command writes once its nodes are up.</summary>
    private sealed class FirstLine : StringWriter
    {
        private readonly TaskCompletionSource<string> _line = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<string> Line => _line.Task;

        public override Encoding Encoding => Encoding.UTF8;

        public override Task WriteLineAsync(string? value)
        {
            _line.TrySetResult(value ?? "");
            return base.WriteLineAsync(value);
        }
    }
}
