//! Prometheus metrics. HTTP request counts and latencies now; the chat gauges
//! join this registry with the real-time core.

use std::time::Instant;

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    pub chat: ChatMetrics,
}

/// What the real-time core reports.
#[derive(Clone)]
pub struct ChatMetrics {
    pub visitors_connected: IntGauge,
    pub agents_online: IntGauge,
    pub conversations_queued: IntGauge,
    pub agent_open_conversations: IntGaugeVec,
    pub messages_stored: IntCounter,
    pub assignments: IntCounter,
    pub reassignments: IntCounter,
    /// Ownership writes tried again after the database failed them.
    pub assignment_write_retries: IntCounter,
    /// Ownership writes that lost to the stored row (the Dispatcher followed it).
    pub assignment_writes_lost: IntCounter,
    pub message_store_seconds: Histogram,
    pub assignment_seconds: Histogram,
}

const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

impl ChatMetrics {
    fn register(registry: &Registry) -> Self {
        fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, m: T) -> T {
            r.register(Box::new(m.clone()))
                .expect("metric registered once");
            m
        }
        let gauge = |n: &str, h: &str| reg(registry, IntGauge::new(n, h).expect("static metric"));
        let counter =
            |n: &str, h: &str| reg(registry, IntCounter::new(n, h).expect("static metric"));
        let histogram = |n: &str, h: &str| {
            reg(
                registry,
                Histogram::with_opts(HistogramOpts::new(n, h).buckets(LATENCY_BUCKETS.to_vec()))
                    .expect("static metric"),
            )
        };
        ChatMetrics {
            visitors_connected: gauge(
                "livedesk_visitors_connected",
                "Visitors with at least one open socket",
            ),
            agents_online: gauge(
                "livedesk_agents_online",
                "Agents with at least one open socket",
            ),
            conversations_queued: gauge(
                "livedesk_conversations_queued",
                "Conversations waiting for an agent",
            ),
            agent_open_conversations: reg(
                registry,
                IntGaugeVec::new(
                    Opts::new(
                        "livedesk_agent_open_conversations",
                        "Open conversations per agent",
                    ),
                    &["agent_id"],
                )
                .expect("static metric"),
            ),
            messages_stored: counter("livedesk_messages_stored_total", "Messages stored"),
            assignments: counter(
                "livedesk_assignments_total",
                "Conversations assigned from the queue",
            ),
            reassignments: counter(
                "livedesk_reassignments_total",
                "Conversations moved from one agent to another or back to the queue",
            ),
            assignment_write_retries: counter(
                "livedesk_assignment_write_retries_total",
                "Ownership writes tried again after the database failed them",
            ),
            assignment_writes_lost: counter(
                "livedesk_assignment_writes_lost_total",
                "Ownership writes that lost to the stored row; the Dispatcher followed the row",
            ),
            message_store_seconds: histogram(
                "livedesk_message_store_seconds",
                "Time to store a message",
            ),
            assignment_seconds: histogram(
                "livedesk_assignment_latency_seconds",
                "Time from a conversation entering the queue to its assignment",
            ),
        }
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "livedesk_http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["method", "route", "status"],
        )
        .expect("static metric definition");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "livedesk_http_request_duration_seconds",
                "HTTP request latency",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["method", "route"],
        )
        .expect("static metric definition");
        registry
            .register(Box::new(http_requests.clone()))
            .expect("metric registered once");
        registry
            .register(Box::new(http_duration.clone()))
            .expect("metric registered once");
        let chat = ChatMetrics::register(&registry);
        Self {
            registry,
            http_requests,
            http_duration,
            chat,
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Middleware: counts and times every request, labelled by route pattern (not
/// raw path, so unknown URLs cannot blow up the label space).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = req.method().to_string();
    let start = Instant::now();
    let res = next.call(req).await;
    if let Some(m) = metrics {
        let (route, status) = match &res {
            Ok(r) => (
                r.request()
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".into()),
                r.status(),
            ),
            Err(e) => ("unmatched".into(), e.as_response_error().status_code()),
        };
        let status = status.as_u16().to_string();
        m.http_requests
            .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
            .inc();
        m.http_duration
            .with_label_values(&[method.as_str(), route.as_str()])
            .observe(start.elapsed().as_secs_f64());
    }
    res
}
