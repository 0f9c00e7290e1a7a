import Foundation

/// Globals of the environment transformers builds: jinja2's (`range`, `dict`, `namespace`, `joiner`, `cycler`) and
/// transformers' (`raise_exception`, `strftime_now`, its underscore-checking `namespace` and `dict`).
enum Builtins {
    static func namespaceUnderscoreError(_ name: String) -> TemplateError {
        .security(message: "Chat templates cannot store underscore-prefixed attributes on a namespace, but got \(Py.stringRepr(name)). Please rename the attribute.", line: 0)
    }

    /// Python's `dict(*args, **kwargs)`.
    static func makeDict(_ args: [Value], _ kwargs: [(String, Value)], _ interp: Interpreter) throws -> PyDict {
        guard args.count <= 1 else { throw TemplateError.type(message: "dict expected at most 1 argument, got \(args.count)", line: 0) }
        var d = PyDict()
        if let first = args.first {
            switch first {
            case .dict(let src): d = src
            default:
                for (i, item) in try interp.iterate(first).enumerated() {
                    let pair: [Value]
                    switch item {
                    case .list(let a), .tuple(let a): pair = a
                    case .string: pair = try interp.iterate(item)
                    default: throw TemplateError.type(message: "cannot convert dictionary update sequence element #\(i) to a sequence", line: 0)
                    }
                    guard pair.count == 2 else {
                        throw TemplateError.type(message: "dictionary update sequence element #\(i) has length \(pair.count); 2 is required", line: 0)
                    }
                    try d.set(pair[0], pair[1])
                }
            }
        }
        for (k, v) in kwargs { d[.string(k)] = v }
        return d
    }
}

extension Interpreter {
    func installGlobals() {
        globals["range"] = .callable(Callable(name: "range") { [unowned self] args, _ in
            var ints: [Int] = []
            for a in args {
                switch a {
                case .int(let i): ints.append(i)
                case .bool(let b): ints.append(b ? 1 : 0)
                default: throw TemplateError.type(message: "'\(a.typeName)' object cannot be interpreted as an integer", line: 0)
                }
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw TemplateError.type(message: "range expected at most 3 arguments, got \(ints.count)", line: 0)
            }
            guard step != 0 else { throw TemplateError.type(message: "range() arg 3 must not be zero", line: 0) }
            let count: Int
            if step > 0 { count = stop > start ? (stop - start - 1) / step + 1 : 0 }
            else { count = start > stop ? (start - stop - 1) / (-step) + 1 : 0 }
            if count > self.limits.maxRange {
                throw TemplateError.limitExceeded(message: "Range too big. The sandbox blocks ranges larger than MAX_RANGE (\(self.limits.maxRange)).", line: 0)
            }
            return .list((0..<count).map { .int(start + $0 * step) })
        })
        globals["dict"] = .callable(Callable(name: "dict") { [unowned self] args, kwargs in
            .dict(try Builtins.makeDict(args, kwargs, self))
        })
        globals["namespace"] = .callable(Callable(name: "namespace") { [unowned self] args, kwargs in
            let d = try Builtins.makeDict(args, kwargs, self)
            for k in d.keys { if case .string(let s) = k, s.hasPrefix("_") { throw Builtins.namespaceUnderscoreError(s) } }
            return .namespace(self.track(Namespace(d)))
        })
        globals["raise_exception"] = .callable(Callable(name: "raise_exception") { args, kwargs in
            let message = args.first ?? kwargs.first { $0.0 == "message" }?.1 ?? .string("")
            throw TemplateError.raised(message: Py.str(message))
        })
        globals["strftime_now"] = .callable(Callable(name: "strftime_now") { [unowned self] args, kwargs in
            guard let fmt = args.first ?? kwargs.first(where: { $0.0 == "format" })?.1 else {
                throw TemplateError.type(message: "strftime_now() missing 1 required positional argument: 'format'", line: 0)
            }
            guard case .string(let f) = fmt else {
                throw TemplateError.type(message: "strftime() argument 1 must be str, not \(fmt.typeName)", line: 0)
            }
            return .string(Strftime.format(f, self.now()))
        })
        globals["joiner"] = .callable(Callable(name: "joiner") { args, kwargs in
            let sep = Py.str(args.first ?? kwargs.first { $0.0 == "sep" }?.1 ?? .string(", "))
            var used = false
            return .callable(Callable(name: "joiner") { _, _ in
                if !used { used = true; return .string("") }
                return .string(sep)
            })
        })
        globals["cycler"] = .callable(Callable(name: "cycler") { [unowned self] args, _ in
            guard !args.isEmpty else { throw TemplateError.type(message: "at least one item has to be provided", line: 0) }
            var pos = 0
            var d = PyDict()
            d[.string("next")] = .callable(Callable(name: "next") { _, _ in
                let v = args[pos]; pos = (pos + 1) % args.count; return v
            })
            d[.string("reset")] = .callable(Callable(name: "reset") { _, _ in pos = 0; return .none })
            return .namespace(self.track(Namespace(d)))
        })
    }
}

/// C `strftime` for the directives chat templates use, in the local time zone (Python's `datetime.now()`).
enum Strftime {
    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                         "October", "November", "December"]
    static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    static func format(_ fmt: String, _ date: Date, timeZone: TimeZone = .current) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday, .nanosecond], from: date)
        let year = c.year!, month = c.month!, day = c.day!, hour = c.hour!, minute = c.minute!, second = c.second!
        let weekday = c.weekday! - 1  // 0 = Sunday
        let dayOfYear = calendar.ordinality(of: .day, in: .year, for: date) ?? 1
        func pad(_ v: Int, _ width: Int = 2, _ fill: Character = "0") -> String {
            let s = String(v)
            return String(repeating: fill, count: max(0, width - s.count)) + s
        }
        var out = ""
        var chars = Array(fmt)[...]
        while let ch = chars.popFirst() {
            guard ch == "%", let d0 = chars.popFirst() else { out.append(ch); continue }
            var d = d0
            var noPad = false
            if d == "-", let next = chars.popFirst() { noPad = true; d = next }
            func num(_ v: Int, _ width: Int = 2) -> String { noPad ? String(v) : pad(v, width) }
            switch d {
            case "Y": out += String(year)
            case "y": out += num(year % 100)
            case "m": out += num(month)
            case "d": out += num(day)
            case "e": out += noPad ? String(day) : pad(day, 2, " ")
            case "H": out += num(hour)
            case "I": out += num(hour % 12 == 0 ? 12 : hour % 12)
            case "M": out += num(minute)
            case "S": out += num(second)
            case "f": out += pad((c.nanosecond ?? 0) / 1000, 6)
            case "p": out += hour < 12 ? "AM" : "PM"
            case "B": out += months[month - 1]
            case "b", "h": out += String(months[month - 1].prefix(3))
            case "A": out += weekdays[weekday]
            case "a": out += String(weekdays[weekday].prefix(3))
            case "w": out += String(weekday)
            case "u": out += String(weekday == 0 ? 7 : weekday)
            case "j": out += num(dayOfYear, 3)
            case "D": out += pad(month) + "/" + pad(day) + "/" + pad(year % 100)
            case "F": out += String(year) + "-" + pad(month) + "-" + pad(day)
            case "T": out += pad(hour) + ":" + pad(minute) + ":" + pad(second)
            case "R": out += pad(hour) + ":" + pad(minute)
            case "n": out += "\n"
            case "t": out += "\t"
            case "%": out += "%"
            case "z", "Z": break  // naive datetime: empty
            default: out.append("%"); out.append(d)
            }
        }
        return out
    }
}
