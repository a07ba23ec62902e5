import Foundation

/// A secret copied into C memory for the length of one libssh2 exchange, then zeroed.
final class CSecretBuffer {
    let pointer: UnsafeMutablePointer<CChar>?
    let count: Int

    init(_ secret: SSHSecret?) {
        guard let secret else {
            pointer = nil
            count = 0
            return
        }
        count = secret.bytes.count
        let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: count + 1)
        for (i, byte) in secret.bytes.enumerated() { buffer[i] = CChar(bitPattern: byte) }
        buffer[count] = 0
        pointer = buffer
    }

    func wipe() {
        guard let pointer else { return }
        pointer.update(repeating: 0, count: count + 1)
    }

    deinit {
        wipe()
        pointer?.deallocate()
    }
}
