-- Stored provider events keep only what the payment service needs of them
-- (payment.storedPayload): the event's identity and type, and of its object
-- ids, status, amounts, our metadata and a failure's code and message.
-- Rows stored before kept the whole event: a charge's billing details (the
-- card holder's name, e-mail, phone and address), its receipt e-mail and
-- shipping, which outlived the buyer's account. They keep the same now.
UPDATE payment_webhook_events SET payload = jsonb_strip_nulls(jsonb_build_object(
    'id', payload->'id', 'object', payload->'object', 'type', payload->'type',
    'api_version', payload->'api_version', 'created', payload->'created', 'livemode', payload->'livemode',
    'data', jsonb_build_object('object', jsonb_build_object(
        'id', payload#>'{data,object,id}', 'object', payload#>'{data,object,object}',
        'status', payload#>'{data,object,status}', 'amount', payload#>'{data,object,amount}',
        'amount_received', payload#>'{data,object,amount_received}',
        'amount_refunded', payload#>'{data,object,amount_refunded}', 'currency', payload#>'{data,object,currency}',
        'payment_intent', CASE WHEN jsonb_typeof(payload#>'{data,object,payment_intent}') = 'string'
            THEN payload#>'{data,object,payment_intent}' END,
        'metadata', payload#>'{data,object,metadata}',
        'last_payment_error', NULLIF(jsonb_strip_nulls(jsonb_build_object(
            'code', payload#>'{data,object,last_payment_error,code}',
            'decline_code', payload#>'{data,object,last_payment_error,decline_code}',
            'message', payload#>'{data,object,last_payment_error,message}',
            'type', payload#>'{data,object,last_payment_error,type}')), '{}'::jsonb)))))
WHERE payload ? 'data';
