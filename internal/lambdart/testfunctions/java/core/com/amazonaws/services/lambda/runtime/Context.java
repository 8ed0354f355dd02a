// A stand-in for aws-lambda-java-core's Context, which functions bundle: the
// runtime must implement whatever the function's copy declares.
package com.amazonaws.services.lambda.runtime;

public interface Context {
    String getAwsRequestId();

    String getLogGroupName();

    String getLogStreamName();

    String getFunctionName();

    String getFunctionVersion();

    String getInvokedFunctionArn();

    Object getIdentity();

    Object getClientContext();

    int getRemainingTimeInMillis();

    int getMemoryLimitInMB();

    LambdaLogger getLogger();

    // Newer versions of the library add defaults the runtime need not know.
    default String getTenantId() {
        return "no-tenant";
    }
}
