//! Chronograf against Farad, as it talks to Kapacitor: an alert rule in the shape its rule
//! builder writes (variables computed outside lambdas, the alert's data into InfluxDB and an
//! `httpOut`), the task list paged with `offset`/`limit` until a page is empty, a task never
//! enabled, the version it reads from `ping`, and the config element it saves handler
//! settings into.

use farad_tests::{Farad, Influxd, TempDir};
use serde_json::{Value, json};

/// A threshold rule as Chronograf's builder lays one out.
const RULE: &str = "var db = 'telegraf'

var rp = 'autogen'

var measurement = 'cpu'

var groupBy = ['host']

var whereFilter = lambda: TRUE

var name = 'cpu hot'

var idVar = name + ':{{.Group}}'

var message = '{{.ID}} is {{.Level}}'

var idTag = 'alertID'

var levelTag = 'level'

var messageField = 'message'

var durationField = 'duration'

var outputDB = 'chronograf'

var outputRP = 'autogen'

var outputMeasurement = 'alerts'

var triggerType = 'threshold'

var crit = 90

var data = stream
    |from()
        .database(db)
        .retentionPolicy(rp)
        .measurement(measurement)
        .groupBy(groupBy)
        .where(whereFilter)
    |eval(lambda: \"usage_user\")
        .as('value')

var trigger = data
    |alert()
        .crit(lambda: \"value\" > crit)
        .message(message)
        .id(idVar)
        .idTag(idTag)
        .levelTag(levelTag)
        .messageField(messageField)
        .durationField(durationField)

trigger
    |eval(lambda: float(\"value\"))
        .as('value')
        .keep()
    |influxDBOut()
        .create()
        .database(outputDB)
        .retentionPolicy(outputRP)
        .measurement(outputMeasurement)
        .tag('alertName', name)
        .tag('triggerType', triggerType)

trigger
    |httpOut('output')
";

#[test]
fn chronograf_rules_and_calls_work() {
    let dir = TempDir::new("chronograf");
    let influx = Influxd::start(&dir.path().join("influxd"));
    let f = Farad::start_in(
        &dir.path().join("data"),
        &format!(
            "[[influxdb]]\nname = \"local\"\nurls = [\"{}\"]\n",
            influx.url()
        ),
    );

    // Chronograf turns its task log panel on from Kapacitor 1.4.
    let version = f
        .get("/kapacitor/v1/ping")
        .header("X-Kapacitor-Version")
        .unwrap()
        .to_owned();
    let minor: u32 = version.split('.').nth(1).unwrap().parse().unwrap();
    assert!(minor >= 4, "{version}");

    let rule = json!({"id": "cpu-hot", "type": "stream", "status": "enabled", "script": RULE,
        "dbrps": [{"db": "telegraf", "rp": "autogen"}]});
    let r = f.post("/kapacitor/v1/tasks", rule.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["executing"], true, "{}", r.body);
    let idle = json!({"id": "idle", "type": "stream", "status": "disabled",
        "script": "stream|from().measurement('mem')|httpOut('out')",
        "dbrps": [{"db": "telegraf", "rp": "autogen"}]});
    assert_eq!(f.post("/kapacitor/v1/tasks", idle.to_string()).status, 200);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lp = format!("cpu,host=a usage_user=95 {now}\ncpu,host=b usage_user=5 {now}\n");
    let w = f.post("/write?db=telegraf&rp=autogen&precision=s", lp);
    assert_eq!(w.status, 204);
    let out = f.get("/kapacitor/v1/tasks/cpu-hot/output").json();
    let series = &out["series"][0];
    assert_eq!(series["tags"]["alertID"], "cpu hot:host=a", "{out}");
    assert_eq!(series["tags"]["level"], "CRITICAL", "{out}");
    let columns: Vec<&str> = series["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let message = columns.iter().position(|&c| c == "message").unwrap();
    assert_eq!(series["values"][0][message], "cpu hot:host=a is CRITICAL");
    // The alert's row lands where Chronograf's alert history reads it.
    farad_tests::wait_until("the alert in InfluxDB", 15, || {
        influx.count("SELECT count(\"value\") FROM \"chronograf\".\"autogen\".\"alerts\"") == 1
    });
    let row = influx.query(
        "SELECT \"alertName\", \"triggerType\", \"value\" FROM \"chronograf\".\"autogen\".\"alerts\"",
    );
    let values = &row["results"][0]["series"][0]["values"][0];
    assert_eq!(
        values.as_array().unwrap()[1..],
        [json!("cpu hot"), json!("threshold"), json!(95)],
        "{row}"
    );

    // The rule list: pages of `limit` from `offset` until one comes back empty.
    let page = |offset: usize| -> Vec<Value> {
        let list = f.get(&format!(
            "/kapacitor/v1/tasks?dot-view=attributes&script-format=formatted&replay-id=&pattern=&offset={offset}&limit=1"
        ));
        assert_eq!(list.status, 200, "{}", list.body);
        list.json()["tasks"].as_array().unwrap().clone()
    };
    let (first, second, third) = (page(0), page(1), page(2));
    assert_eq!((first.len(), second.len(), third.len()), (1, 1, 0));
    assert_eq!(
        (&first[0]["id"], &second[0]["id"]),
        (&json!("cpu-hot"), &json!("idle"))
    );
    // The builder's script comes back as it was written (Chronograf parses it again).
    assert_eq!(first[0]["script"], RULE);
    // A task never enabled: Go's zero time, which Go clients can read.
    assert_eq!(second[0]["last-enabled"], "0001-01-01T00:00:00Z");
    assert!(second[0].get("template-id").is_none(), "{}", second[0]);
    let all = f.get("/kapacitor/v1/tasks").json();
    assert_eq!(all["tasks"].as_array().unwrap().len(), 2);
    let matching = f
        .get("/kapacitor/v1/tasks?pattern=cpu*&fields=status")
        .json();
    assert_eq!(
        matching["tasks"],
        json!([{"id": "cpu-hot", "status": "enabled",
            "link": {"rel": "self", "href": "/kapacitor/v1/tasks/cpu-hot"}}])
    );
    let bad = f.get("/kapacitor/v1/tasks?limit=ten");
    assert_eq!(bad.status, 400);
    let one =
        f.get("/kapacitor/v1/tasks/idle?dot-view=attributes&script-format=formatted&replay-id=");
    assert_eq!(one.json()["last-enabled"], "0001-01-01T00:00:00Z");

    // Editing a rule: disabled with its new script, then enabled.
    let edit = json!({"script": RULE.replace("var crit = 90", "var crit = 80"), "status": "disabled",
        "type": "stream", "dbrps": [{"db": "telegraf", "rp": "autogen"}]});
    assert_eq!(
        f.patch("/kapacitor/v1/tasks/cpu-hot", edit.to_string())
            .status,
        200
    );
    let r = f.patch(
        "/kapacitor/v1/tasks/cpu-hot",
        json!({"status": "enabled"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["executing"], true);

    // Handler settings are saved into the section's element, which exists by default.
    let kafka = f.get("/kapacitor/v1/config/kafka").json();
    assert_eq!(kafka["elements"][0]["options"]["id"], "default", "{kafka}");
    let r = f.post(
        "/kapacitor/v1/config/kafka/default",
        json!({"set": {"brokers": ["127.0.0.1:9"]}}).to_string(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let kafka = f.get("/kapacitor/v1/config/kafka/default").json();
    assert_eq!(
        kafka["options"]["brokers"],
        json!(["127.0.0.1:9"]),
        "{kafka}"
    );
}
