import Foundation

/// The real libvirt 9.0.0 output in `Tests/Fixtures/libvirt-9.0.0/` and GPU variants derived from it.
///
/// The captured domains had no host device; the variants add vfio-pci functions exactly where libvirt puts them:
/// a JSON `-device` line (or the older `-device vfio-pci,host=…` form) in the command line, and a
/// `<hostdev mode='subsystem' type='pci'>` in `<devices>`.
public enum LibvirtFixtures {
    /// `Tests/Fixtures/libvirt-9.0.0`.
    public static var directory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/Fixtures/libvirt-9.0.0").path
    }

    /// The text of one fixture file.
    public static func text(_ name: String) throws -> String {
        try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    }

    /// The JSON `-device` argument line libvirt ≥ 7 writes for a hostdev.
    public static func jsonDevice(_ host: String, index: Int) -> String {
        #"-device '{"driver":"vfio-pci","host":"\#(host)","id":"hostdev\#(index)","bus":"pci.\#(index + 5)","addr":"0x0"}' \"#
    }

    /// The key=value `-device` argument older libvirt writes.
    public static func legacyDevice(_ host: String, index: Int) -> String {
        "-device vfio-pci,host=\(host),id=hostdev\(index),bus=pci.\(index + 5),addr=0x0 \\"
    }

    /// `log` with `deviceLines` inserted into every QEMU command line (before `-audiodev`).
    public static func log(_ log: String, adding deviceLines: [String]) -> String {
        var out: [Substring] = []
        for line in log.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("-audiodev ") { out.append(contentsOf: deviceLines.map { Substring($0) }) }
            out.append(line)
        }
        return out.joined(separator: "\n")
    }

    /// A `<hostdev>` element as libvirt writes it.
    public static func hostdevXML(domain: String = "0x0000", bus: String, slot: String = "0x00", function: String,
        managed: String = "yes") -> String {
        """
            <hostdev mode='subsystem' type='pci' managed='\(managed)'>
              <driver name='vfio'/>
              <source>
                <address domain='\(domain)' bus='\(bus)' slot='\(slot)' function='\(function)'/>
              </source>
              <alias name='hostdev0'/>
              <address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/>
            </hostdev>

        """
    }

    /// `xml` with `elements` inserted just before `</devices>`.
    public static func xml(_ xml: String, adding elements: [String]) -> String {
        guard let range = xml.range(of: "  </devices>") else { return xml }
        return xml.replacingCharacters(in: range, with: elements.joined() + "  </devices>")
    }
}
