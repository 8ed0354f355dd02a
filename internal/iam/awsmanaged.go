package iam

import (
	"time"

	"github.com/nimbus-dev/nimbus/internal/policy"
)

// awsManagedPrefix starts the ARN of every AWS-managed policy.
const awsManagedPrefix = "arn:aws:iam::aws:policy/"

// awsManagedCreated is the creation date nimbus reports for AWS-managed
// policies: they predate every account.
var awsManagedCreated = time.Date(2015, 2, 6, 18, 39, 46, 0, time.UTC)

// awsManaged holds the AWS-managed policies nimbus ships, by ARN. The
// documents are the essence of AWS's (the services nimbus serves, and
// their neighbours), not copies of every action AWS lists.
var awsManaged = func() map[string]*policyRecord {
	defs := []struct{ name, description, doc string }{
		{"AdministratorAccess", "Provides full access to AWS services and resources.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`},
		{"PowerUserAccess", "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeOrganization","account:ListRegions","account:GetAccountInformation"],"Resource":"*"}]}`},
		{"ReadOnlyAccess", "Provides read-only access to AWS services and resources.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ec2:Describe*","ec2:Get*","lambda:Get*","lambda:List*","batch:Describe*","batch:List*","s3:Get*","s3:List*","iam:Get*","iam:List*","iam:Generate*","iam:Simulate*","logs:Describe*","logs:Get*","logs:FilterLogEvents","logs:StartQuery","logs:StopQuery","logs:TestMetricFilter","ce:Get*","ce:Describe*","ce:List*","sts:GetCallerIdentity"],"Resource":"*"}]}`},
		{"AmazonEC2FullAccess", "Provides full access to Amazon EC2 via the AWS Management Console.",
			`{"Version":"2012-10-17","Statement":[{"Action":"ec2:*","Effect":"Allow","Resource":"*"},{"Effect":"Allow","Action":"elasticloadbalancing:*","Resource":"*"},{"Effect":"Allow","Action":"cloudwatch:*","Resource":"*"},{"Effect":"Allow","Action":"autoscaling:*","Resource":"*"},{"Effect":"Allow","Action":"iam:CreateServiceLinkedRole","Resource":"*","Condition":{"StringEquals":{"iam:AWSServiceName":["autoscaling.amazonaws.com","ec2scheduled.amazonaws.com","elasticloadbalancing.amazonaws.com","spot.amazonaws.com","spotfleet.amazonaws.com","transitgateway.amazonaws.com"]}}}]}`},
		{"AmazonEC2ReadOnlyAccess", "Provides read only access to Amazon EC2 via the AWS Management Console.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"},{"Effect":"Allow","Action":"elasticloadbalancing:Describe*","Resource":"*"},{"Effect":"Allow","Action":["cloudwatch:ListMetrics","cloudwatch:GetMetricStatistics","cloudwatch:Describe*"],"Resource":"*"},{"Effect":"Allow","Action":"autoscaling:Describe*","Resource":"*"}]}`},
		{"AWSLambda_FullAccess", "Grants full access to AWS Lambda service, AWS Lambda console features, and other related AWS services.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["cloudformation:DescribeStacks","cloudformation:ListStackResources","cloudwatch:ListMetrics","cloudwatch:GetMetricData","ec2:DescribeSecurityGroups","ec2:DescribeSubnets","ec2:DescribeVpcs","kms:ListAliases","iam:GetPolicy","iam:GetPolicyVersion","iam:GetRole","iam:GetRolePolicy","iam:ListAttachedRolePolicies","iam:ListRolePolicies","iam:ListRoles","lambda:*","logs:DescribeLogGroups","states:DescribeStateMachine","states:ListStateMachines","tag:GetResources","xray:GetTraceSummaries","xray:BatchGetTraces"],"Resource":"*"},{"Effect":"Allow","Action":"iam:PassRole","Resource":"*","Condition":{"StringEquals":{"iam:PassedToService":"lambda.amazonaws.com"}}},{"Effect":"Allow","Action":["logs:DescribeLogStreams","logs:GetLogEvents","logs:FilterLogEvents"],"Resource":"arn:aws:logs:*:*:log-group:/aws/lambda/*"}]}`},
		{"AWSBatchFullAccess", "Provides full access for AWS Batch resources.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["batch:*","cloudwatch:GetMetricStatistics","ec2:DescribeSubnets","ec2:DescribeSecurityGroups","ec2:DescribeKeyPairs","ec2:DescribeVpcs","ec2:DescribeImages","ec2:DescribeLaunchTemplates","ec2:DescribeLaunchTemplateVersions","ecs:DescribeClusters","ecs:Describe*","ecs:List*","eks:DescribeCluster","eks:ListClusters","logs:Describe*","logs:Get*","logs:TestMetricFilter","logs:FilterLogEvents","iam:ListInstanceProfiles","iam:ListRoles"],"Resource":"*"},{"Effect":"Allow","Action":["iam:PassRole"],"Resource":["arn:aws:iam::*:role/AWSBatchServiceRole","arn:aws:iam::*:role/service-role/AWSBatchServiceRole","arn:aws:iam::*:role/ecsInstanceRole","arn:aws:iam::*:instance-profile/ecsInstanceRole","arn:aws:iam::*:role/iaws-ec2-spot-fleet-role","arn:aws:iam::*:role/aws-ec2-spot-fleet-role","arn:aws:iam::*:role/AWSBatchJobRole*"]},{"Effect":"Allow","Action":["iam:CreateServiceLinkedRole"],"Resource":"arn:aws:iam::*:role/*Batch*","Condition":{"StringEquals":{"iam:AWSServiceName":"batch.amazonaws.com"}}}]}`},
		{"AmazonS3FullAccess", "Provides full access to all buckets via the AWS Management Console.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}`},
		{"AmazonS3ReadOnlyAccess", "Provides read only access to all buckets via the AWS Management Console.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*","s3:Describe*","s3-object-lambda:Get*","s3-object-lambda:List*"],"Resource":"*"}]}`},
		{"IAMFullAccess", "Provides full access to IAM via the AWS Management Console.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}`},
		{"IAMReadOnlyAccess", "Provides read only access to IAM via the AWS Management Console.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}`},
		{"CloudWatchLogsFullAccess", "Provides full access to CloudWatch Logs.",
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:*","cloudwatch:GenerateQuery"],"Resource":"*"}]}`},
	}
	out := map[string]*policyRecord{}
	for i, d := range defs {
		policy.MustParse(d.doc, policy.Identity) // the table is code: fail at start, not at first use
		arn := awsManagedPrefix + d.name
		out[arn] = &policyRecord{Name: d.name, ID: "ANPAAWSMANAGED" + string(rune('A'+i)) + "0000000", Path: "/", ARN: arn,
			Description: d.description, Created: awsManagedCreated, Updated: awsManagedCreated, DefaultVersion: "v1",
			Versions: []policyVersion{{ID: "v1", Document: d.doc, Created: awsManagedCreated}}}
	}
	return out
}()
