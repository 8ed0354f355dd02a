package example;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import java.util.LinkedHashMap;
import java.util.Map;

// Hello is the usual RequestHandler: the handler string names the class only.
public class Hello implements RequestHandler<Map<String, Object>, Map<String, Object>> {
    @Override
    public Map<String, Object> handleRequest(Map<String, Object> event, Context context) {
        context.getLogger().log("hello from java " + context.getAwsRequestId() + "\n");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("event", event);
        out.put("requestId", context.getAwsRequestId());
        out.put("functionName", context.getFunctionName());
        out.put("functionVersion", context.getFunctionVersion());
        out.put("arn", context.getInvokedFunctionArn());
        out.put("memory", context.getMemoryLimitInMB());
        out.put("remaining", context.getRemainingTimeInMillis());
        out.put("logGroup", context.getLogGroupName());
        out.put("logStream", context.getLogStreamName());
        out.put("tenant", context.getTenantId());
        out.put("describe", context.describe());
        if (context.getIdentity() != null) {
            out.put("identityId", context.getIdentity().getIdentityId());
            out.put("identityPool", context.getIdentity().getIdentityPoolId());
        }
        if (context.getClientContext() != null) {
            out.put("appTitle", context.getClientContext().getClient().getAppTitle());
            out.put("custom", context.getClientContext().getCustom());
            out.put("env", context.getClientContext().getEnvironment());
        }
        return out;
    }
}
