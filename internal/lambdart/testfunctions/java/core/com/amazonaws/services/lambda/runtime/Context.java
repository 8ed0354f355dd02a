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

    CognitoIdentity getIdentity();

    ClientContext getClientContext();

    int getRemainingTimeInMillis();

    int getMemoryLimitInMB();

    LambdaLogger getLogger();

    String getTenantId();

    // A default method the runtime does not know runs as written.
    default String describe() {
        return getFunctionName() + "/" + getFunctionVersion();
    }
}
