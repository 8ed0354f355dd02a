"""Drives a codec-backed test server with botocore, the library the AWS CLI
runs, and prints what botocore made of each answer as one JSON object."""
import json
import sys

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
session = botocore.session.get_session()


def client(name, **kw):
    return session.create_client(
        name, region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="SECRET",
        config=Config(retries={"max_attempts": 1}, **kw))


def error(call):
    try:
        call()
    except ClientError as e:
        return {"Code": e.response["Error"]["Code"], "Message": e.response["Error"].get("Message", ""),
                "Status": e.response["ResponseMetadata"]["HTTPStatusCode"],
                "Reason": e.response.get("Reason", "")}
    return {"Code": "none"}


res = {}
lam = client("lambda")
out = lam.invoke(FunctionName="hello", Payload=b'{"a":1}', LogType="Tail", Qualifier="prod")
res["invoke"] = {"StatusCode": out["StatusCode"], "FunctionError": out.get("FunctionError", ""),
                 "LogResult": out.get("LogResult", ""), "Payload": out["Payload"].read().decode()}
out = lam.list_functions(MaxItems=2)
res["list_functions"] = [f["FunctionName"] for f in out["Functions"]] + [out.get("NextMarker", "")]
res["get_function"] = error(lambda: lam.get_function(FunctionName="nope"))
res["throttled"] = error(lambda: lam.get_function(FunctionName="throttled"))

batch = client("batch")
out = batch.describe_jobs(jobs=["j1"])
res["describe_jobs"] = out["jobs"][0]["attempts"][0]["container"]["exitCode"]
res["batch_error"] = error(lambda: batch.describe_jobs(jobs=["bad"]))

s3 = client("s3", s3={"addressing_style": "path"})
out = s3.put_object(Bucket="bkt", Key="dir/a b+c", Body=b"hello world", Metadata={"Owner": "me"}, ContentType="text/plain")
res["put_object"] = out["ETag"]
out = s3.get_object(Bucket="bkt", Key="dir/a b+c", Range="bytes=0-4")
res["get_object"] = {"Body": out["Body"].read().decode(), "ContentLength": out["ContentLength"],
                     "LastModified": out["LastModified"].isoformat(), "Metadata": out["Metadata"]}
out = s3.list_objects_v2(Bucket="bkt", Prefix="dir/", Delimiter="/")
res["list_objects_v2"] = {"Keys": [o["Key"] for o in out.get("Contents", [])],
                          "Prefixes": [p["Prefix"] for p in out.get("CommonPrefixes", [])], "KeyCount": out["KeyCount"]}
out = s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "x"}, {"Key": "y"}]})
res["delete_objects"] = [d["Key"] for d in out.get("Deleted", [])]
res["head_missing"] = error(lambda: s3.head_object(Bucket="bkt", Key="missing"))
res["get_missing"] = error(lambda: s3.get_object(Bucket="bkt", Key="missing"))
res["location"] = s3.get_bucket_location(Bucket="bkt").get("LocationConstraint")
print(json.dumps(res))
