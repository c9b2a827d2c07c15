extension KeyedDecodingContainer {
    /// Decodes an integer, naming the key when the number does not fit.
    ///
    /// Foundation's JSONDecoder throws an internal error for a fractional or out-of-range number and reports it as
    /// "not valid JSON" with no coding path; wire errors must say where the bad number is, so integers go through
    /// here.
    func decodeInteger<Integer: FixedWidthInteger & Decodable>(
        _ type: Integer.Type,
        forKey key: Key
    ) throws -> Integer {
        do {
            return try decode(type, forKey: key)
        } catch let error as DecodingError {
            throw error
        } catch {
            // Foundation's internal "number is not representable" error, which loses the path on the way out.
            throw DecodingError.dataCorruptedError(
                forKey: key,
                in: self,
                debugDescription: Integer.isSigned ? StrictJSON.numberRule : "must be an integer of at least 0"
            )
        }
    }
}
