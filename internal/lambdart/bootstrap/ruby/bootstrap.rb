# frozen_string_literal: true

# nimbus's Lambda runtime for Ruby: a Runtime API (2018-06-01) client loop.
#
# Started as `ruby bootstrap.rb` with Lambda's environment; it loads the
# handler `file.method` or `file.Module::Class.method` from LAMBDA_TASK_ROOT
# and serves invocations until the sandbox is killed. Standard library only
# (net/http, json), so it runs on whatever Ruby 3.x the host has.
#
# nimbus starts it with --disable-gems: loading RubyGems costs about 70 ms
# of CPU, a third of a cold start, and most functions need only the
# standard library. A function that bundled gems gets RubyGems at once
# (add_bundled_gems); any other require that fails without it loads it and
# tries again, so gems the host's Ruby bundles (rexml, say) still load.
unless defined?(::Gem::Specification)
  module Kernel
    alias nimbus_require_without_gems require
    private :nimbus_require_without_gems

    def require(path)
      nimbus_require_without_gems(path)
    rescue LoadError
      raise if defined?(::Gem::Specification)

      nimbus_require_without_gems('rubygems')
      require(path) # RubyGems' require now, which activates the gem
    end
    private :require
  end
end

require 'json'
require 'net/http'

$stdout.sync = true
$stderr.sync = true

module NimbusLambda
  API_VERSION = '2018-06-01'
  # This file's frames are the runtime's, never shown in a user's trace.
  OWN_FILE = File.expand_path(__FILE__)

  # Talks HTTP/1.1 to the Runtime API over one kept-alive connection.
  class RuntimeClient
    def initialize(address)
      host, _, port = address.rpartition(':')
      @http = Net::HTTP.new(host, Integer(port))
      # /next blocks until the next event, which may be hours away.
      @http.read_timeout = nil
      @http.keep_alive_timeout = 24 * 3600
      @http.start
    end

    def next_invocation
      res = @http.request(Net::HTTP::Get.new("/#{API_VERSION}/runtime/invocation/next"))
      raise "runtime API /next answered #{res.code}: #{res.body.to_s[0, 200]}" unless res.code == '200'

      res
    end

    def respond(request_id, payload)
      res = post("/runtime/invocation/#{request_id}/response", payload, {})
      if res.code == '413'
        # The API turned it into Function.ResponseSizeTooLarge already.
        warn "[ERROR] response too large for request #{request_id}"
      elsif res.code != '202'
        raise "runtime API /response answered #{res.code}: #{res.body.to_s[0, 200]}"
      end
    end

    def fail(request_id, doc)
      post_error("/runtime/invocation/#{request_id}/error", doc)
    end

    def init_error(doc)
      post_error('/runtime/init/error', doc)
    end

    private

    def post_error(path, doc)
      res = post(path, JSON.generate(doc), 'Lambda-Runtime-Function-Error-Type' => doc[:errorType])
      raise "runtime API #{path} answered #{res.code}: #{res.body.to_s[0, 200]}" unless res.code == '202'
    end

    def post(path, body, headers)
      req = Net::HTTP::Post.new("/#{API_VERSION}#{path}", { 'Content-Type' => 'application/json' }.merge(headers))
      req.body = body
      @http.request(req)
    end
  end

  # The context object Lambda passes to Ruby handlers.
  class LambdaContext
    attr_reader :aws_request_id, :invoked_function_arn, :log_group_name, :log_stream_name,
                :function_name, :memory_limit_in_mb, :function_version, :deadline_ms,
                :identity, :client_context, :tenant_id

    def initialize(headers)
      @aws_request_id = headers['lambda-runtime-aws-request-id']
      @invoked_function_arn = headers['lambda-runtime-invoked-function-arn']
      @deadline_ms = headers['lambda-runtime-deadline-ms'].to_i
      @identity = json_header(headers['lambda-runtime-cognito-identity'])
      @client_context = json_header(headers['lambda-runtime-client-context'])
      @tenant_id = headers['lambda-runtime-aws-tenant-id']
      @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
      @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
      @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
      @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
      @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
    end

    def get_remaining_time_in_millis
      [@deadline_ms - (Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)), 0].max
    end

    private

    def json_header(value)
      return nil if value.nil? || value.empty?

      JSON.parse(value)
    rescue JSON::ParserError
      nil
    end
  end

  # A handler that could not be loaded, with the error document to post.
  class InitFailure < StandardError
    attr_reader :doc

    def initialize(doc)
      @doc = doc
      super(doc[:errorMessage])
    end
  end

  module_function

  # error_document is Lambda's Ruby error shape: the type is the exception's
  # class, qualified by where it happened (Function<TypeError>,
  # Init<LoadError>), and the trace leaves out the runtime's own frames.
  def error_document(err, phase)
    frames = (err.backtrace || []).reject { |f| f.start_with?("#{OWN_FILE}:") }
    { errorMessage: err.message, errorType: "#{phase}<#{err.class}>", stackTrace: frames }
  end

  def log_error(doc)
    warn JSON.generate(doc)
  end

  # load_handler requires the handler's file and finds its method: `file.method`
  # names a top-level method, `file.Module::Class.method` a class method.
  def load_handler(spec, task_root)
    file, dot, target = spec.partition('.')
    if dot.empty? || file.empty? || target.empty?
      raise InitFailure, { errorMessage: "Bad handler '#{spec}': want file.method or file.Module::Class.method",
                           errorType: 'Init<ArgumentError>', stackTrace: [] }
    end
    begin
      require File.join(task_root, file)
    rescue ScriptError, StandardError => e # LoadError and SyntaxError are ScriptErrors
      raise InitFailure, error_document(e, 'Init')
    end
    owner_name, _, method_name = target.rpartition('.')
    owner = owner_name.empty? ? TOPLEVEL_BINDING.receiver : resolve_constant(owner_name, spec)
    unless owner.respond_to?(method_name, true)
      raise InitFailure, { errorMessage: "Handler method '#{method_name}' not found on " \
                                         "#{owner_name.empty? ? "file '#{file}.rb'" : owner_name} (handler '#{spec}')",
                           errorType: 'Init<NoMethodError>', stackTrace: [] }
    end
    owner.method(method_name)
  end

  def resolve_constant(name, spec)
    Object.const_get(name)
  rescue NameError => e
    raise InitFailure, { errorMessage: "Handler '#{spec}': #{e.message}", errorType: 'Init<NameError>',
                         stackTrace: [] }
  end

  # add_bundled_gems puts gems the function bundled (bundle config set path
  # vendor/bundle) or a layer brought (/opt/ruby/gems) on the gem path, as
  # Lambda's GEM_PATH does; any Ruby version's directory, since the host's
  # Ruby may not be the one the function was bundled for.
  def add_bundled_gems(task_root)
    bundled = Dir.glob(File.join(task_root, 'vendor/bundle/ruby/*')) + Dir.glob('/opt/ruby/gems/*')
    return if bundled.empty?

    # A trailing separator keeps RubyGems' default directories after these.
    ENV['GEM_PATH'] = "#{(bundled + ENV.fetch('GEM_PATH', '').split(':')).uniq.join(':')}:"
    if defined?(::Gem::Specification)
      Gem.clear_paths
    else
      require 'rubygems'
    end
  end

  def serve(client, handler)
    loop do
      res = client.next_invocation
      headers = res.each_header.to_h
      request_id = headers['lambda-runtime-aws-request-id']
      trace_id = headers['lambda-runtime-trace-id']
      trace_id ? ENV['_X_AMZN_TRACE_ID'] = trace_id : ENV.delete('_X_AMZN_TRACE_ID')
      context = LambdaContext.new(headers)
      begin
        event = res.body.nil? || res.body.empty? ? nil : JSON.parse(res.body)
        result = handler.call(event: event, context: context)
        payload = JSON.generate(result)
      rescue Exception => e # every failure, NoMemoryError included, is the invocation's to report
        raise if e.is_a?(SystemExit) || e.is_a?(Interrupt)

        doc = error_document(e, 'Function')
        log_error(doc)
        client.fail(request_id, doc)
        next
      end
      client.respond(request_id, payload)
    end
  end

  # await_claim waits, as a warm spare, for a function, then takes its
  # environment. A spare starts before it knows its function: Ruby is up,
  # json and net/http loaded, and RubyGems with its index of installed gems
  # too (off the cold start here, so a spare pays it whether or not its
  # function needs gems) when it blocks on the gate. Once claimed it
  # replaces its environment with start.json's and goes on as if started
  # with it. EOF on the gate without a line means the spare was dropped
  # unclaimed.
  def await_claim(control)
    require 'rubygems' unless defined?(::Gem::Specification)
    Gem::Specification.stubs
    gem_env = ENV.values_at('GEM_HOME', 'GEM_PATH')
    exit(0) if File.open(File.join(control, 'gate'), 'rb', &:read).to_s.empty?
    start = JSON.parse(File.read(File.join(control, 'start.json')))
    ENV.replace(start.fetch('env'))
    Gem.clear_paths if ENV.values_at('GEM_HOME', 'GEM_PATH') != gem_env
  end

  def main
    control = ENV['NIMBUS_SPARE_CONTROL']
    await_claim(control) if control
    client = RuntimeClient.new(ENV.fetch('AWS_LAMBDA_RUNTIME_API'))
    task_root = ENV.fetch('LAMBDA_TASK_ROOT', '/var/task')
    $LOAD_PATH.unshift(task_root)
    $LOAD_PATH.unshift('/opt/ruby/lib') if Dir.exist?('/opt/ruby/lib')
    Dir.chdir(task_root)
    add_bundled_gems(task_root)
    begin
      handler = load_handler(ENV.fetch('_HANDLER', ''), task_root)
    rescue InitFailure => e
      log_error(e.doc)
      client.init_error(e.doc)
      exit(1)
    end
    serve(client, handler)
  end
end

NimbusLambda.main if $PROGRAM_NAME == __FILE__
