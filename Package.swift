// swift-tools-version:6.2
import PackageDescription

// The test script sets COVENANT_WARNINGS_AS_ERRORS=1: a warning in our own targets fails CI.
let warningsAsErrors = Context.environment["COVENANT_WARNINGS_AS_ERRORS"] == "1"

let strictSettings: [SwiftSetting] =
    [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("InternalImportsByDefault"),
    ] + (warningsAsErrors ? [.treatAllWarnings(as: .error)] : [])

let package = Package(
    name: "Covenant",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "BillingDomain", targets: ["BillingDomain"])
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // rabbitmq-c 0.11 (Debian: librabbitmq-dev). `amqp_login` is variadic, so the shim
        // header wraps it in fixed-argument functions Swift can call.
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        // The pure billing domain: money, calendar, catalog, contracts, pricing, invoice
        // composition. No I/O, no clock reads, no globals, no binary floating point.
        .target(
            name: "BillingDomain",
            swiftSettings: strictSettings
        ),
        // A Swift client over rabbitmq-c: one thread owns each connection (see docs/architecture.md).
        .target(
            name: "AMQPClient",
            dependencies: ["CRabbitMQ"],
            swiftSettings: strictSettings
        ),
        // The AMQP interface's messages: CloudEvents envelope, commands, events, validation.
        .target(
            name: "CovenantMessages",
            dependencies: ["BillingDomain"],
            swiftSettings: strictSettings
        ),
        // The documents worker: invoices as HTML and typeset into PDFs (docs/decisions/0013).
        .target(
            name: "DocumentsWorker",
            dependencies: [
                "InvoiceDocuments", "CovenantMessages", "BillingDomain", "WorkerRuntime", "WorkerStores",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // What an invoice's document shows: the data its templates lay out, and its HTML (pure).
        .target(
            name: "InvoiceDocuments",
            dependencies: [
                "BillingDomain", "CovenantMessages", .product(name: "Mustache", package: "swift-mustache"),
            ],
            swiftSettings: strictSettings
        ),
        // Worker stores: an inbox, an outbox and each worker's data, on SQLite (GRDB) or
        // PostgreSQL (postgres-nio), behind one protocol.
        .target(
            name: "WorkerStores",
            dependencies: [
                "BillingDomain", "CovenantMessages",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        // The shared worker runtime: consume, validate, inbox, handle, commit with the outbox,
        // acknowledge; the outbox relay; rejections and dead letters; graceful shutdown.
        .target(
            name: "WorkerRuntime",
            dependencies: [
                "AMQPClient", "WorkerStores", "CovenantMessages", "BillingDomain",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        // Worker handlers: what each worker decides, through the domain, for each message.
        .target(
            name: "ProvisioningWorker",
            dependencies: [
                "WorkerRuntime", "WorkerStores", "CovenantMessages", "BillingDomain",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "RatingWorker",
            dependencies: ["WorkerRuntime", "WorkerStores", "CovenantMessages", "BillingDomain"],
            swiftSettings: strictSettings
        ),
        .target(
            name: "InvoicingWorker",
            dependencies: [
                "WorkerRuntime", "WorkerStores", "CovenantMessages", "BillingDomain",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "NotificationWorker",
            dependencies: [
                "WorkerRuntime", "WorkerStores", "CovenantMessages", "BillingDomain",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        .target(
            name: "CommitmentsWorker",
            dependencies: ["WorkerRuntime", "WorkerStores", "CovenantMessages", "BillingDomain"],
            swiftSettings: strictSettings
        ),
        // One thin executable per worker: read the environment, build, run until SIGTERM.
        .executableTarget(
            name: "covenant-provisioning", dependencies: ["ProvisioningWorker", "WorkerRuntime"],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "covenant-invoicing", dependencies: ["InvoicingWorker", "WorkerRuntime"],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "covenant-notification", dependencies: ["NotificationWorker", "WorkerRuntime"],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "covenant-documents", dependencies: ["DocumentsWorker", "WorkerRuntime"],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "covenant-commitments", dependencies: ["CommitmentsWorker", "WorkerRuntime"],
            swiftSettings: strictSettings),
        .executableTarget(
            name: "covenant-rating", dependencies: ["RatingWorker", "WorkerRuntime"], swiftSettings: strictSettings),
        // The ops CLI.
        .executableTarget(
            name: "covenant",
            dependencies: [
                "AMQPClient", "CovenantMessages", "WorkerRuntime", "WorkerStores", "DocumentsWorker",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strictSettings
        ),
        // Benchmarks (Benchmarks/run builds them in release mode).
        .executableTarget(
            name: "AMQPThroughput",
            dependencies: ["AMQPClient"],
            path: "Benchmarks/AMQPThroughput",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "PipelineBenchmark",
            dependencies: [
                "AMQPClient", "BillingDomain", "CovenantMessages", "RatingWorker", "WorkerRuntime", "WorkerStores",
                "DocumentsWorker", "InvoiceDocuments", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/PipelineBenchmark",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "DomainBenchmark",
            dependencies: ["BillingDomain"],
            path: "Benchmarks/DomainBenchmark",
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "StoreThroughput",
            dependencies: ["WorkerStores", "BillingDomain", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/StoreThroughput",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "BillingDomainTests",
            dependencies: ["BillingDomain", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "AMQPClientTests",
            dependencies: ["AMQPClient", .product(name: "PropertyBased", package: "swift-property-based")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WorkerStoresTests",
            dependencies: ["WorkerStores", "BillingDomain", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "DocumentsWorkerTests",
            dependencies: [
                "DocumentsWorker", "InvoiceDocuments", "CovenantMessages", "BillingDomain", "WorkerRuntime",
                "WorkerStores", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "InvoiceDocumentsTests",
            dependencies: ["InvoiceDocuments", "CovenantMessages", "BillingDomain"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CovenantMessagesTests",
            dependencies: [
                "CovenantMessages", "BillingDomain", .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "WorkerRuntimeTests",
            dependencies: [
                "WorkerRuntime", "AMQPClient", "WorkerStores", "CovenantMessages", "BillingDomain",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CommitmentsWorkerTests",
            dependencies: ["CommitmentsWorker", "WorkerRuntime", "WorkerStores", "CovenantMessages", "BillingDomain"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ProvisioningWorkerTests",
            dependencies: ["ProvisioningWorker", "WorkerRuntime", "WorkerStores", "CovenantMessages", "BillingDomain"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ClusterTests",
            dependencies: ["AMQPClient", "CovenantMessages", "WorkerRuntime", "NotificationWorker", "TestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "RatingWorkerTests",
            dependencies: ["RatingWorker", "WorkerRuntime", "WorkerStores", "CovenantMessages", "BillingDomain"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "InvoicingWorkerTests",
            dependencies: [
                "InvoicingWorker", "CommitmentsWorker", "ProvisioningWorker", "WorkerRuntime", "WorkerStores",
                "CovenantMessages",
                "BillingDomain",
            ],
            swiftSettings: strictSettings
        ),
        // What several test targets share: child processes with sane signal handling.
        .target(name: "TestSupport", path: "Tests/TestSupport", swiftSettings: strictSettings),
        .testTarget(
            name: "NotificationWorkerTests",
            dependencies: [
                "NotificationWorker", "WorkerRuntime", "WorkerStores", "CovenantMessages", "BillingDomain",
                "TestSupport",
            ],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "CRabbitMQTests",
            dependencies: ["CRabbitMQ"],
            swiftSettings: strictSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
