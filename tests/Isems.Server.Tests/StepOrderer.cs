using Xunit.Abstractions;
using Xunit.Sdk;

namespace Isems.Server.Tests;

/// <summary>The place of a test in a story told by one class over one shared fixture (a cluster killed, then restarted).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class StepAttribute(int number) : Attribute
{
    public int Number { get; } = number;
}

/// <summary>Runs a class's tests in the order of their <see cref="StepAttribute"/>; xunit's own order is unspecified.</summary>
public sealed class StepOrderer : ITestCaseOrderer
{
    public const string TypeName = "Isems.Server.Tests.StepOrderer";
    public const string AssemblyName = "Isems.Server.Tests";

    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases) where TTestCase : ITestCase =>
        testCases.OrderBy(t => Step(t)).ThenBy(t => t.TestMethod.Method.Name, StringComparer.Ordinal);

    private static int Step(ITestCase testCase) =>
        testCase.TestMethod.Method.GetCustomAttributes(typeof(StepAttribute).AssemblyQualifiedName)
            .Select(a => (int)a.GetConstructorArguments().First())
            .DefaultIfEmpty(int.MaxValue)
            .First();
}
