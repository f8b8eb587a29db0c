use resilient_http::resilient;

#[resilient]
async fn call() {

}

fn main() {}
