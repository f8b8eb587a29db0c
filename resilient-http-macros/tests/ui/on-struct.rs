use resilient_http::resilient;

#[resilient(max_attempts = 3)]
struct Payments;

fn main() {}
