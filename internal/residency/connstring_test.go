package residency

import (
	"reflect"
	"testing"
)

// discoverValue returns what DiscoverEgress finds in one env value named key.
func discoverValue(key, value string, ctx PodContext) []string {
	var got []string
	for _, ep := range DiscoverEgress(egressEnvPod(key, value), ctx) {
		got = append(got, ep.String())
	}
	return got
}

// The address forms each driver documents, one table per driver; every row
// failed before the connection-string reader (today's code found nothing in
// all but the single-host URLs).
func TestDiscoverEgressConnectionStrings(t *testing.T) {
	tables := map[string][]struct {
		key, value string
		want       []string
	}{
		"PostgreSQL (libpq, JDBC, Npgsql)": {
			{"DATABASE_URL", "postgresql://app:s3cret@pg.eu-north-1.rds.amazonaws.com:5432/shop?sslmode=require", []string{"pg.eu-north-1.rds.amazonaws.com:5432"}},
			{"DATABASE_URL", "postgresql://pg-a.acme.eu:5432,pg-b.acme.eu:5433/shop?target_session_attrs=read-write", []string{"pg-a.acme.eu:5432", "pg-b.acme.eu:5433"}},
			{"PG_DSN", "host=pg.acme.eu port=5432 dbname=shop user=app sslmode=verify-full", []string{"pg.acme.eu:5432"}},
			{"PG_DSN", "host=pg-a.acme.eu,pg-b.acme.eu port=5432,5433 dbname=shop", []string{"pg-a.acme.eu:5432", "pg-b.acme.eu:5433"}},
			{"PG_DSN", "host=/var/run/postgresql dbname=shop", nil},
			{"SPRING_DATASOURCE_URL", "jdbc:postgresql://pg-a.acme.eu,pg-b.acme.eu/shop?targetServerType=primary", []string{"pg-a.acme.eu", "pg-b.acme.eu"}},
			{"ConnectionStrings__Default", "Host=shop.postgres.database.azure.com;Database=shop;Username=app;Password=x;SSL Mode=Require", []string{"shop.postgres.database.azure.com"}},
			{"ConnectionStrings__Default", "Host=pg-a.acme.eu:5432,pg-b.acme.eu:5433;Database=shop", []string{"pg-a.acme.eu:5432", "pg-b.acme.eu:5433"}},
			{"ConnectionStrings__Default", "Server=pg.acme.eu;Port=6432;Database=shop;User Id=app", []string{"pg.acme.eu:6432"}},
		},
		"MySQL (URL, JDBC, Go driver)": {
			{"DATABASE_URL", "mysql://app:pw@mysql.acme.eu:3306/shop", []string{"mysql.acme.eu:3306"}},
			{"JDBC_URL", "jdbc:mysql://my-a.acme.eu:3306,my-b.acme.eu:3306/shop?useSSL=true", []string{"my-a.acme.eu:3306", "my-b.acme.eu:3306"}},
			{"JDBC_URL", "jdbc:mysql:loadbalance://my-a.acme.eu,my-b.acme.eu/shop", []string{"my-a.acme.eu", "my-b.acme.eu"}},
			{"JDBC_URL", "jdbc:mysql://address=(host=my.acme.eu)(port=3307)(type=master)/shop", []string{"my.acme.eu:3307"}},
			{"MYSQL_DSN", "app:pw@tcp(mysql.acme.eu:3306)/shop?parseTime=true&tls=true", []string{"mysql.acme.eu:3306"}},
			{"MYSQL_DSN", "tcp(mysql.acme.eu)/shop", []string{"mysql.acme.eu"}},
			{"MYSQL_DSN", "app:pw@unix(/var/run/mysqld/mysqld.sock)/shop", nil},
			{"MYSQL_DSN", "app:pw@tcp(mysql.shop.svc.cluster.local:3306)/shop", nil},
		},
		"SQL Server (JDBC, ADO.NET, ODBC)": {
			{"JDBC_URL", "jdbc:sqlserver://orders.database.windows.net:1433;database=orders;encrypt=true;loginTimeout=30", []string{"orders.database.windows.net:1433"}},
			{"JDBC_URL", `jdbc:sqlserver://sql.acme.eu\SQLEXPRESS:1434;databaseName=shop`, []string{"sql.acme.eu:1434"}},
			{"ConnectionStrings__Orders", "Server=tcp:orders.database.windows.net,1433;Initial Catalog=orders;Persist Security Info=False;Encrypt=True;", []string{"orders.database.windows.net:1433"}},
			{"ConnectionStrings__Orders", "Data Source=sql.acme.eu,1433;Initial Catalog=orders;User ID=app", []string{"sql.acme.eu:1433"}},
			{"ConnectionStrings__Orders", `Server=sql.acme.eu\INST01;Database=orders;Trusted_Connection=True`, []string{"sql.acme.eu"}},
			{"ConnectionStrings__Orders", "Server=(localdb)\\MSSQLLocalDB;Database=orders", nil},
			{"ODBC", "Driver={ODBC Driver 18 for SQL Server};Server=tcp:sql.acme.eu,1433;Database=orders;Encrypt=yes", []string{"sql.acme.eu:1433"}},
		},
		"Oracle (JDBC thin, EZConnect, TNS)": {
			{"JDBC_URL", "jdbc:oracle:thin:@//ora.acme.eu:1521/ORCLPDB1", []string{"ora.acme.eu:1521"}},
			{"JDBC_URL", "jdbc:oracle:thin:@ora.acme.eu:1521:ORCL", []string{"ora.acme.eu:1521"}},
			{"JDBC_URL", "jdbc:oracle:thin:app/pw@ora.acme.eu:1521/svc", []string{"ora.acme.eu:1521"}},
			{"JDBC_URL", "jdbc:oracle:thin:@tcps://adb.eu-frankfurt-1.oraclecloud.com:1522/x_high.adb.oraclecloud.com", []string{"adb.eu-frankfurt-1.oraclecloud.com:1522"}},
			{"JDBC_URL", "jdbc:oracle:thin:@(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=ora-a.acme.eu)(PORT=1521))(ADDRESS=(PROTOCOL=TCP)(HOST=ora-b.acme.eu)(PORT=1522))(CONNECT_DATA=(SERVICE_NAME=shop)))", []string{"ora-a.acme.eu:1521", "ora-b.acme.eu:1522"}},
			{"TNS", "(DESCRIPTION = (ADDRESS = (PROTOCOL = TCP)(HOST = ora.acme.eu)(PORT = 1521)) (CONNECT_DATA = (SID = ORCL)))", []string{"ora.acme.eu:1521"}},
			{"ConnectionStrings__Ora", "Data Source=ora.acme.eu:1521/ORCLPDB1;User Id=app;Password=x", []string{"ora.acme.eu:1521"}},
			{"ORACLE_DSN", "ora.acme.eu:1521/ORCLPDB1", []string{"ora.acme.eu:1521"}},
		},
		"MongoDB": {
			{"MONGO_URL", "mongodb://app:pw@m0.acme.eu:27017,m1.acme.eu:27017,m2.acme.eu:27017/shop?replicaSet=rs0&authSource=admin", []string{"m0.acme.eu:27017", "m1.acme.eu:27017", "m2.acme.eu:27017"}},
			{"MONGO_URL", "mongodb+srv://app:pw@cluster0.ab1cd.mongodb.net/shop?retryWrites=true&w=majority", []string{"cluster0.ab1cd.mongodb.net"}},
			{"MONGO_URL", "mongodb://mongo-0.mongo.shop.svc:27017,mongo-1.mongo.shop.svc:27017/?replicaSet=rs0", nil},
		},
		"Redis": {
			{"REDIS_URL", "rediss://default:pw@eu1-cache.upstash.io:6379", []string{"eu1-cache.upstash.io:6379"}},
			{"REDIS_URL", "redis://redis-master.cache:6379/0", nil},
			{"REDIS_SENTINELS", "redis-sentinel://s1.acme.eu:26379,s2.acme.eu:26379/mymaster", []string{"s1.acme.eu:26379", "s2.acme.eu:26379"}},
		},
		"Kafka": {
			{"KAFKA_BOOTSTRAP_SERVERS", "SASL_SSL://pkc-abc12.eu-west-1.aws.confluent.cloud:9092", []string{"pkc-abc12.eu-west-1.aws.confluent.cloud:9092"}},
			{"KAFKA_BOOTSTRAP_SERVERS", "b-1.msk.acme.eu:9094,b-2.msk.acme.eu:9094", []string{"b-1.msk.acme.eu:9094", "b-2.msk.acme.eu:9094"}},
			{"KAFKA_BROKERS", "PLAINTEXT://kafka-0.kafka-headless.events.svc.cluster.local:9092,SSL://b.acme.eu:9093", []string{"b.acme.eu:9093"}},
			{"KAFKA_ADVERTISED_LISTENERS", "INTERNAL://kafka-0.kafka:9092,EXTERNAL://kafka.acme.eu:9094", nil},
		},
		"RabbitMQ": {
			{"AMQP_URL", "amqps://app:pw@b-1234.mq.eu-west-1.amazonaws.com:5671/%2f", []string{"b-1234.mq.eu-west-1.amazonaws.com:5671"}},
			{"RABBITMQ_URL", "amqp://guest:guest@rabbitmq.messaging:5672/", nil},
		},
		"Elasticsearch": {
			{"ELASTICSEARCH_HOSTS", "https://es-1.acme.eu:9200,https://es-2.acme.eu:9200", []string{"es-1.acme.eu:9200", "es-2.acme.eu:9200"}},
			{"ELASTICSEARCH_HOSTS", `["https://es-1.acme.eu:9200","https://es-2.acme.eu:9200"]`, []string{"es-1.acme.eu:9200", "es-2.acme.eu:9200"}},
			{"ES_URL", "https://elastic:pw@shop.es.eu-central-1.aws.cloud.es.io:443", []string{"shop.es.eu-central-1.aws.cloud.es.io:443"}},
		},
		"gRPC": {
			{"PUBSUB_TARGET", "dns:///pubsub.googleapis.com:443", []string{"pubsub.googleapis.com:443"}},
			{"TARGET", "dns://8.8.8.8/api.acme.eu:443", []string{"api.acme.eu:443"}},
			{"TARGET", "passthrough:///api.acme.eu:8443", []string{"api.acme.eu:8443"}},
			{"TARGET", "xds:///checkout.shop", nil},
			{"TARGET", "unix:///var/run/app.sock", nil},
		},
		"Git": {
			{"REPO", "git@github.com:argoproj/argocd-example-apps.git", []string{"github.com"}},
			{"REPO", "ssh://git@gitlab.acme.eu:2222/platform/config.git", []string{"gitlab.acme.eu:2222"}},
			{"REPO", "https://github.com/argoproj/argocd-example-apps.git", []string{"github.com"}},
		},
		"Azure key=value": {
			{"COSMOS", "AccountEndpoint=https://shop.documents.azure.com:443/;AccountKey=abc==;", []string{"shop.documents.azure.com:443"}},
			{"SERVICEBUS", "Endpoint=sb://shop.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=abc=", []string{"shop.servicebus.windows.net"}},
			{"AZURE_STORAGE_CONNECTION_STRING", "DefaultEndpointsProtocol=https;AccountName=acmeshop;AccountKey=abc123==;EndpointSuffix=core.windows.net", []string{"acmeshop.blob.core.windows.net"}},
			{"APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://westeurope.livediagnostics.monitor.azure.com/", []string{"westeurope-5.in.applicationinsights.azure.com", "westeurope.livediagnostics.monitor.azure.com"}},
		},
	}
	for driver, rows := range tables {
		for _, tt := range rows {
			t.Run(driver+"/"+tt.value, func(t *testing.T) {
				if got := discoverValue(tt.key, tt.value, PodContext{Namespace: "shop"}); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s=%q: found %q, want %q", tt.key, tt.value, got, tt.want)
				}
			})
		}
	}
}

func TestTNSAddresses(t *testing.T) {
	var got []string
	tnsAddresses("(DESCRIPTION=(ADDRESS_LIST=(ADDRESS=(HOST=a)(PORT=1))(ADDRESS=(PORT=2)(HOST=b)))(HOST=c))", func(h, p string) { got = append(got, h+":"+p) })
	if want := []string{"a:1", "b:2", "c:"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tnsAddresses = %q, want %q", got, want)
	}
}
