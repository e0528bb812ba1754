namespace Isems.Simulator.Lines;

/// <summary>One instant's readings of a node's charge controller.</summary>
internal readonly record struct Reading(
    double OpenCircuitVoltage,
    double MppVoltage,
    double BatteryVoltage,
    int ChargeEstimate,
    double Temperature,
    int PowerSaveLevel,
    int TimeToShutdown,
    int Status);

/// <summary>
/// A small, smooth model of a solar node: the sun follows the solar day at the node's longitude, clouds drift over
/// a few days, the battery charges in the afternoon and drains at night. Smooth so consecutive lines look like a
/// real log (and charts of simulated data look plausible), pure so a line depends only on node and time.
/// </summary>
internal static class SolarModel
{
    private const double Day = 86_400;

    private const int Charging = 0x800, Discharging = 0x400, FullyCharged = 0x200, Healthy = 0x100, BatteryLow = 0x080,
        UpgradeNotAllowed = 0x002;

    public static Reading At(in NodeTraits node, long timestamp)
    {
        // Local solar time: a degree of longitude is four minutes.
        var dayFraction = Fraction((timestamp + node.Longitude * 240) / Day);
        var sun = Math.Max(0, Math.Sin(2 * Math.PI * (dayFraction - 0.25)));
        // Weather over days, plus clouds passing within the hour.
        var clouds = 0.7 + 0.2 * Math.Sin(2 * Math.PI * timestamp / (3.3 * Day) + node.WeatherPhase)
            + 0.1 * Math.Sin(2 * Math.PI * timestamp / 2820 + 3 * node.WeatherPhase);
        var light = sun * clouds;

        // A module's open-circuit voltage jumps up at first light and then grows slowly with irradiance.
        var openCircuit = (1 - Math.Exp(-40 * light)) * (17.5 + 4 * light);
        var mpp = openCircuit * (0.95 - 0.13 * Math.Min(1, light * 10));
        var charge = (int)Math.Round(Math.Clamp(62 + 30 * Math.Sin(2 * Math.PI * (dayFraction - 0.40)) + node.ChargeOffset, 5, 100));
        var charging = light > 0.05 && charge < 98;
        var battery = 11.8 + 1.3 * charge / 100 + (charging ? 0.6 * light : 0);
        var temperature = node.BaseTemperature + 8 * Math.Sin(2 * Math.PI * (dayFraction - 0.375));

        var status = Healthy | (charge >= 98 ? FullyCharged : charging ? Charging | UpgradeNotAllowed : Discharging)
            | (charge < 20 ? BatteryLow : 0);
        return new Reading(
            OpenCircuitVoltage: openCircuit,
            MppVoltage: mpp,
            BatteryVoltage: battery,
            ChargeEstimate: charge,
            Temperature: temperature,
            PowerSaveLevel: charge < 15 ? 1 : 0,
            TimeToShutdown: 300 + 5 * charge,
            Status: status);
    }

    private static double Fraction(double x) => x - Math.Floor(x);
}
